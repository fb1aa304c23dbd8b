using Moderation.Streams.Media;

namespace Moderation.Streams.Inference.Tests;

public sealed class OnnxImageClassifierTests(ClassifierFixture fixture) : IClassFixture<ClassifierFixture>
{
    private readonly OnnxImageClassifier _classifier = fixture.Classifier;

    [Fact]
    public void The_default_model_is_nsfw_mobilenet_v2_version_1_on_the_cpu_loaded_from_the_output_models_folder()
    {
        Assert.Equal("nsfw-mobilenet-v2@1", _classifier.Model.VersionedName);
        Assert.Equal(224, _classifier.Model.InputSize);
        Assert.Equal(ClassLabels.All, _classifier.Model.Labels);
        Assert.Equal("cpu", _classifier.Device);
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "models", "nsfw-mobilenet-v2.onnx"), _classifier.ModelPath);
    }

    [Fact]
    public void A_batch_gives_the_same_scores_as_each_image_alone()
    {
        var images = TestData.Reference.Select(TestData.Decode).ToArray();

        var batch = _classifier.Classify(images);

        Assert.Equal(images.Length, batch.Count);
        for (int i = 0; i < images.Length; i++)
        {
            var alone = _classifier.Classify([images[i]])[0];
            for (int k = 0; k < alone.Values.Count; k++)
                Assert.Equal(alone.Values[k], batch[i].Values[k], 1e-6f);
        }
    }

    [Fact]
    public void Concurrent_callers_get_the_scores_a_single_caller_gets()
    {
        var images = TestData.Reference.Take(4).Select(TestData.Decode).ToArray();
        var expected = images.Select(i => _classifier.Classify([i])[0].Values.ToArray()).ToArray();

        var results = new float[images.Length * 3][];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 },
            i => results[i] = _classifier.Classify([images[i % images.Length]])[0].Values.ToArray());

        for (int i = 0; i < results.Length; i++) Assert.Equal(expected[i % images.Length], results[i]);
    }

    [Fact]
    public void Scores_are_probabilities_addressable_by_label()
    {
        var image = TestData.Decode(TestData.ReferenceFor("fractal-plasma-224x224.png"));

        var scores = _classifier.Classify([image])[0];

        Assert.Equal(1f, scores.Values.Sum(), 1e-5f);
        Assert.All(scores.Values, v => Assert.InRange(v, 0f, 1f));
        Assert.Equal(ClassLabels.Porn, scores.TopLabel);
        Assert.Equal(scores.Values[3], scores[ClassLabels.Porn]);
        Assert.Equal(ClassLabels.All, scores.ToDictionary().Keys);
        Assert.Equal(scores.Values[0], scores.ToDictionary()[ClassLabels.Drawing]);
        Assert.Throws<KeyNotFoundException>(() => scores["violence"]);
    }

    [Fact]
    public void An_empty_batch_gives_no_scores() => Assert.Empty(_classifier.Classify([]));

    [Fact]
    public void An_unknown_model_name_is_refused_with_the_names_that_are_known()
    {
        var error = Assert.Throws<ArgumentException>(() => OnnxImageClassifier.Load("nsfw-resnet-9000"));

        Assert.Contains("nsfw-resnet-9000", error.Message);
        Assert.Contains("nsfw-mobilenet-v2", error.Message);
        Assert.Throws<ArgumentException>(() => ModelRegistry.Get("NSFW-MOBILENET-V2"));
    }

    [Fact]
    public void A_missing_model_file_is_reported_with_the_path_that_was_tried()
    {
        var empty = Directory.CreateTempSubdirectory("no-models-");
        try
        {
            var error = Assert.Throws<FileNotFoundException>(() => OnnxImageClassifier.Load(modelsDirectory: empty.FullName));
            Assert.Equal(Path.Combine(empty.FullName, "nsfw-mobilenet-v2.onnx"), error.FileName);
        }
        finally
        {
            empty.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_disposed_classifier_refuses_work()
    {
        var classifier = OnnxImageClassifier.Load();
        classifier.Dispose();

        Assert.Throws<ObjectDisposedException>(() => classifier.Classify([new DecodedImage(1, 1, 3, [0, 0, 0])]));
    }
}

/// <summary>Fixed batch-size buckets, preallocated lanes, and what a warm classifier allocates.</summary>
public sealed class ClassifierBufferTests(ClassifierFixture fixture) : IClassFixture<ClassifierFixture>
{
    [Fact]
    public void Batches_padded_up_to_a_bucket_score_exactly_like_exact_sized_batches()
    {
        using var bucketed = OnnxImageClassifier.Load(options: new ClassifierOptions { MaxBatchSize = 8, BatchBuckets = [4] });
        var images = TestData.Reference.Take(3).Select(TestData.Decode).ToArray();

        Assert.Equal([4, 8], bucketed.BatchBuckets);
        var padded = bucketed.Classify(images);
        var exact = fixture.Classifier.Classify(images);

        for (int i = 0; i < images.Length; i++)
            for (int k = 0; k < ClassLabels.All.Count; k++)
                Assert.Equal(exact[i].Values[k], padded[i].Values[k], 1e-6f);
    }

    [Fact]
    public void Requests_larger_than_the_maximum_batch_are_split_and_keep_their_order()
    {
        using var small = OnnxImageClassifier.Load(options: new ClassifierOptions { MaxBatchSize = 2 });
        var images = TestData.Reference.Take(5).Select(TestData.Decode).ToArray();

        var split = small.Classify(images);

        Assert.Equal(TestData.Reference.Take(5).Select(r => r.Top), split.Select(s => s.TopLabel));
    }

    [Fact]
    public void A_warm_classifier_reuses_its_tensors_a_call_allocates_only_its_small_results()
    {
        using var classifier = OnnxImageClassifier.Load(options: new ClassifierOptions { MaxBatchSize = 4, ParallelPreprocessing = false });
        var images = TestData.Reference.Take(4).Select(TestData.Decode).ToArray();
        classifier.Classify(images);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) classifier.Classify(images);
        long perImage = (GC.GetAllocatedBytesForCurrentThread() - before) / 40;

        // One input tensor is 224*224*3*4 = 602,112 bytes; a result is a ClassScores and its five floats.
        Assert.InRange(perImage, 0, 1024);
        Assert.Equal(1, classifier.Lanes);
    }
}
