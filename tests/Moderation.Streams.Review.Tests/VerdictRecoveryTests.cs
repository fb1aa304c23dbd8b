using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media;
using Moderation.Streams.Redis.Banks;
using StackExchange.Redis;

namespace Moderation.Streams.Review.Tests;

/// <summary>
/// A console that dies mid-verdict loses no verdict and publishes none twice. The dying console is frozen at the worst
/// moments, through its test hook: after the verdict is pending and banked but before anything is published, and after
/// the verdict event is published but before the final decision; it never resumes (as a killed process never does),
/// and a new console finishes the job.
/// </summary>
public sealed class VerdictRecoveryTests : IAsyncLifetime
{
    private readonly ReviewStack _stack = new();
    private readonly TaskCompletionSource _frozen = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly PdqInfo Pdq = new("0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f", 90);

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        // The frozen console's verdict call ends with an error, never with a publish.
        _frozen.TrySetException(new OperationCanceledException("the console was killed"));
        await _stack.DisposeAsync();
    }

    private static StringContent Body(object value) => new(JsonSerializer.Serialize(value), Encoding.UTF8, "application/json");

    /// <summary>Starts a console, queues an item, claims it and sends a takedown verdict that freezes in the hook.</summary>
    private async Task<(ReviewStack.Console Dying, Task<HttpResponseMessage> Request, VerdictRecord Frozen)> KillMidVerdictAsync(bool publishVerdictFirst, string instance)
    {
        var dying = await _stack.StartConsoleAsync(new() { ["Review:InstanceId"] = instance });
        var reached = new TaskCompletionSource<VerdictRecord>(TaskCreationOptions.RunContinuationsAsynchronously);
        dying.Verdicts.BeforePublish = async record =>
        {
            if (publishVerdictFirst)
                await dying.App.Services.GetRequiredService<VerdictPublisher>().PublishAsync(record, new PublishedParts(Verdict: false, Decision: true), Ct);
            reached.TrySetResult(record);
            await _frozen.Task;
        };
        _stack.QueueForReview("c-crash", _stack.WriteMedia("c.jpg", SampleImages.Jpeg(21)), pdq: Pdq, uploader: "u-crash");
        await ReviewStack.WaitQueuedAsync(dying.Store, 1);
        using var alice = dying.Alice;
        Assert.Equal(HttpStatusCode.OK, (await alice.PostAsync("/api/items/c-crash/claim", null, Ct)).StatusCode);
        var request = dying.Alice.PostAsync("/api/items/c-crash/verdict", Body(new { verdict = "takedown", bank = "reviewed", note = "crash" }), Ct);
        var frozen = await reached.Task.WaitAsync(TimeSpan.FromSeconds(60), Ct);
        _stack.Abandon(dying);
        return (dying, request, frozen);
    }

    private async Task<(List<ReviewStack.Record> Verdicts, List<ReviewStack.Record> Takedowns)> WaitPublishedAsync(ReviewStack.Console console)
    {
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while ((await console.Store.GetVerdictAsync("c-crash"))?.State != VerdictRecord.Done)
        {
            Assert.True(DateTime.UtcNow < end, "the pending verdict was not finished");
            await Task.Delay(200, Ct);
        }
        // Whatever either console might still publish would be acknowledged by now.
        await Task.Delay(1000, Ct);
        return (_stack.ReadAll(Topics.Reviews), _stack.ReadAll(Topics.Takedown));
    }

    [Fact]
    public async Task Killed_before_publishing_the_restarted_console_publishes_each_record_once()
    {
        var (_, request, frozen) = await KillMidVerdictAsync(publishVerdictFirst: false, instance: "review-0");
        Assert.Equal(VerdictRecord.Pending, frozen.State);
        Assert.Empty(_stack.ReadAll(Topics.Reviews));
        Assert.Empty(_stack.ReadAll(Topics.Takedown));

        // The pod comes back under its name: it takes its own pending verdict over at once.
        var restarted = await _stack.StartConsoleAsync(new() { ["Review:InstanceId"] = "review-0" });
        var (verdicts, takedowns) = await WaitPublishedAsync(restarted);
        var verdict = Assert.Single(verdicts);
        var takedown = Assert.Single(takedowns);
        Assert.Equal(frozen.VerdictId, verdict.VerdictId);
        Assert.Equal(frozen.VerdictId, takedown.VerdictId);
        Assert.Equal("crash", JsonDocument.Parse(verdict.Value).RootElement.GetProperty("note").GetString());
        Assert.Equal("alice", DecisionEvent.FromUtf8Json(takedown.Value).Reasons[0].Reviewer);
        Assert.False(request.IsCompleted);

        // Judged once: the queue is empty and the item cannot be claimed again.
        using var bob = restarted.Bob;
        Assert.Equal(HttpStatusCode.Conflict, (await bob.PostAsync("/api/items/c-crash/claim", null, Ct)).StatusCode);
        Assert.Equal(0, (await restarted.Store.DepthAsync()).Depth);
        var redis = await ConnectionMultiplexer.ConnectAsync(_stack.Redis.Configuration);
        Assert.Single((await new RedisBankStore(redis).LoadAsync("reviewed", Ct)).Entries);
    }

    [Fact]
    public async Task Killed_between_the_two_records_only_the_missing_one_is_published()
    {
        var (_, _, frozen) = await KillMidVerdictAsync(publishVerdictFirst: true, instance: "review-0");
        Assert.Single(_stack.ReadAll(Topics.Reviews));
        Assert.Empty(_stack.ReadAll(Topics.Takedown));

        var restarted = await _stack.StartConsoleAsync(new() { ["Review:InstanceId"] = "review-0" });
        var (verdicts, takedowns) = await WaitPublishedAsync(restarted);
        Assert.Equal(frozen.VerdictId, Assert.Single(verdicts).VerdictId);
        Assert.Equal(frozen.VerdictId, Assert.Single(takedowns).VerdictId);
    }

    [Fact]
    public async Task Another_console_waits_for_the_dead_ones_lock_then_finishes_its_verdict()
    {
        var (_, _, frozen) = await KillMidVerdictAsync(publishVerdictFirst: false, instance: "review-0");
        var other = await _stack.StartConsoleAsync(new() { ["Review:InstanceId"] = "review-1", ["Review:PublishLockTtl"] = "00:00:03" });
        // It must not touch the verdict while the lock (taken under the dying console's own TTL, 3 min) is held...
        Assert.Equal(0, await other.Verdicts.RecoverAsync(Ct));
        Assert.Empty(_stack.ReadAll(Topics.Reviews));
        // ...and takes it over once the lock has expired (shortened here by hand, as time passing would).
        var redis = await ConnectionMultiplexer.ConnectAsync(_stack.Redis.Configuration);
        var lockKey = (await redis.GetServers()[0].KeysAsync(pattern: "*publishing:c-crash").ToListAsync(Ct)).Single();
        await redis.GetDatabase().KeyExpireAsync(lockKey, TimeSpan.FromMilliseconds(200));
        var (verdicts, takedowns) = await WaitPublishedAsync(other);
        Assert.Equal(frozen.VerdictId, Assert.Single(verdicts).VerdictId);
        Assert.Equal(frozen.VerdictId, Assert.Single(takedowns).VerdictId);
    }
}
