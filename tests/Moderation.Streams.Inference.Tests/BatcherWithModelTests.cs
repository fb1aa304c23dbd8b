namespace Moderation.Streams.Inference.Tests;

/// <summary>The dynamic batcher in front of the real model: many single-image callers, the scores each image gets alone.</summary>
public sealed class BatcherWithModelTests(ClassifierFixture fixture) : IClassFixture<ClassifierFixture>
{
    [Fact]
    public async Task Concurrent_single_image_callers_get_the_scores_of_a_direct_call_in_fewer_runs()
    {
        var images = TestData.Reference.Select(TestData.Decode).ToArray();
        var expected = images.Select(i => fixture.Classifier.Classify([i])[0].Values.ToArray()).ToArray();
        await using var batcher = new DynamicBatcher(fixture.Classifier, new DynamicBatcherOptions
        {
            MaxBatchSize = 8,
            MaxQueueDelay = TimeSpan.FromMilliseconds(2),
        });

        var calls = Enumerable.Range(0, images.Length * 3)
            .Select(i => Task.Run(() => batcher.ClassifyAsync(images[i % images.Length], TestContext.Current.CancellationToken)))
            .ToArray();
        var results = await Task.WhenAll(calls);

        for (int i = 0; i < results.Length; i++)
            for (int k = 0; k < ClassLabels.All.Count; k++)
                Assert.Equal(expected[i % images.Length][k], results[i].Values[k], 1e-6f);
        Assert.Equal(results.Length, batcher.Images);
        Assert.True(batcher.Batches < results.Length, $"{batcher.Batches} runs for {results.Length} images");
    }
}
