namespace Moderation.Streams.Inference.Tests;

/// <summary>The converted models + C# preprocessing against the original nsfwjs models in TF.js.</summary>
public sealed class ReferenceParityTests(AllModelsFixture fixture) : IClassFixture<AllModelsFixture>
{
    // A faithful port stays far below 1e-4 (measured: a few 1e-6).
    private const float Tolerance = 1e-4f;

    public static IEnumerable<TheoryDataRow<string, string>> Cases() =>
        from model in ModelRegistry.All
        from image in TestData.ReferenceByModel[model.Name]
        select new TheoryDataRow<string, string>(model.Name, image.File);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_score_matches_the_original_nsfwjs_model_within_1e4(string model, string file)
    {
        var reference = TestData.ReferenceByModel[model].Single(r => r.File == file);
        var image = TestData.Decode(reference);
        Assert.Equal((reference.Width, reference.Height), (image.Width, image.Height));

        var scores = fixture[model].Classify([image])[0];

        for (int i = 0; i < ClassLabels.All.Count; i++)
        {
            float difference = Math.Abs(scores.Values[i] - reference.Scores[i]);
            Assert.True(difference <= Tolerance,
                $"{model} {file} {ClassLabels.All[i]}: ours {scores.Values[i]:R}, nsfwjs {reference.Scores[i]:R} (|Δ| {difference:E2})");
        }
        Assert.Equal(reference.Top, scores.TopLabel);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{model} {file}: max |Δ| {scores.Values.Select((v, i) => Math.Abs(v - reference.Scores[i])).Max():E2}");
    }

    [Fact]
    public void Every_registered_model_has_reference_scores_for_every_image()
    {
        var files = TestData.Reference.Select(r => r.File).Order().ToArray();
        Assert.Equal(ModelRegistry.All.Select(m => m.Name).Order(), TestData.ReferenceByModel.Keys.Order());
        Assert.All(TestData.ReferenceByModel.Values, images => Assert.Equal(files, images.Select(r => r.File).Order()));
    }

    [Fact]
    public void The_reference_set_covers_resizing_no_resizing_greyscale_and_every_kind_of_top_class_we_rely_on()
    {
        var images = TestData.Reference.Select(r => (r, Decoded: TestData.Decode(r))).ToArray();

        Assert.Contains(images, i => i.r.Width == 224 && i.r.Height == 224);
        Assert.Contains(images, i => i.r.Width == 299 && i.r.Height == 299); // InceptionV3's own size
        Assert.Contains(images, i => i.r.Width != i.r.Height);
        Assert.Contains(images, i => i.r.Width < 224 && i.r.Height < 224);
        Assert.Contains(images, i => i.Decoded.Channels == 1);
        // Synthetic images the model calls porn: the reason thresholds and a review band matter.
        Assert.Contains(images, i => i.r.Top == ClassLabels.Porn);
        Assert.Contains(images, i => i.r.Top == ClassLabels.Neutral);
        Assert.Contains(images, i => i.r.Top == ClassLabels.Drawing);
    }
}

/// <summary>Every registered model, loaded once for a test class.</summary>
public sealed class AllModelsFixture : IDisposable
{
    private readonly Dictionary<string, OnnxImageClassifier> _classifiers =
        ModelRegistry.All.ToDictionary(m => m.Name, m => OnnxImageClassifier.Load(m.Name));

    public OnnxImageClassifier this[string model] => _classifiers[model];

    public void Dispose()
    {
        foreach (var classifier in _classifiers.Values) classifier.Dispose();
    }
}
