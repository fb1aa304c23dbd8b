using System.Net;
using System.Text;
using System.Text.Json;
using Moderation.Streams.Media;
using StackExchange.Redis;

namespace Moderation.Streams.Review.Tests;

/// <summary>Kafka is the record: a console whose store was wiped rebuilds the queue from the topics, and an item judged
/// before the wipe (its verdict on <c>moderation.reviews</c>) is not queued again.</summary>
public sealed class QueueRebuildTests : IAsyncLifetime
{
    private readonly ReviewStack _stack = new();
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;
    public async ValueTask DisposeAsync() => await _stack.DisposeAsync();

    [Fact]
    public async Task A_wiped_store_is_rebuilt_from_the_topics_without_the_judged_items()
    {
        var first = await _stack.StartConsoleAsync();
        foreach (var id in new[] { "c-a", "c-b", "c-c" }) _stack.QueueForReview(id, _stack.WriteMedia(id + ".jpg", SampleImages.Jpeg(id.Length + id[^1])));
        await ReviewStack.WaitQueuedAsync(first.Store, 3);
        Assert.True((await first.Verdicts.ClaimAsync("c-b", "alice")).IsOk);
        Assert.True((await first.Verdicts.VerdictAsync("c-b", "alice", new VerdictRequest("allow", null, null), Ct)).IsOk);
        await first.App.StopAsync(Ct);

        // The store is lost; the group's committed offsets are not.
        var redis = await ConnectionMultiplexer.ConnectAsync(_stack.Redis.Configuration);
        await redis.GetServers()[0].FlushAllDatabasesAsync();

        var second = await _stack.StartConsoleAsync();
        await ReviewStack.WaitQueuedAsync(second.Store, 2);
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await second.Store.IsInitialisedAsync())
        {
            Assert.True(DateTime.UtcNow < end, "the rebuilt store was never marked initialised");
            await Task.Delay(100, Ct);
        }
        using var alice = second.Alice;
        var queue = JsonDocument.Parse(await alice.GetStringAsync("/api/queue", Ct)).RootElement;
        Assert.Equal(["c-a", "c-c"], queue.EnumerateArray().Select(i => i.GetProperty("content_id").GetString()).Order().ToArray());
        Assert.True(await second.Store.IsJudgedAsync("c-b"));

        // A redelivery of the judged item's decision after the rebuild is still not queued.
        _stack.QueueForReview("c-b", _stack.WriteMedia("b2.jpg", SampleImages.Jpeg(99)));
        _stack.QueueForReview("c-d", _stack.WriteMedia("d.jpg", SampleImages.Jpeg(98)));
        await ReviewStack.WaitQueuedAsync(second.Store, 3);
        queue = JsonDocument.Parse(await alice.GetStringAsync("/api/queue", Ct)).RootElement;
        Assert.Equal(["c-a", "c-c", "c-d"], queue.EnumerateArray().Select(i => i.GetProperty("content_id").GetString()).Order().ToArray());
        Assert.Equal(HttpStatusCode.NotFound, (await alice.PostAsync("/api/items/c-b/claim", null, Ct)).StatusCode);
    }
}
