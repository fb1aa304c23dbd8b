using System.Text;
using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Kafka.Replay;

namespace Moderation.Streams.Kafka.Tests.Adversarial;

/// <summary>
/// A fatal error with uploads in flight ends in an orderly stop: consuming stops, in-flight work is cancelled and
/// waited for (at most <see cref="KafkaOptions.ShutdownTimeout"/>), RunAsync throws the error (a replay returns it),
/// Dispose returns, and work that finishes after the stop never reaches the (disposed) producer.
/// </summary>
public sealed class FatalStopTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly PoisonHarness _harness = new();

    public void Dispose() => _harness.Dispose();

    /// <summary>Upload <c>first</c> is decided when the test opens <see cref="Fire"/>; every other upload is held: the
    /// even ones until their token is cancelled, the odd ones (a handler that ignores cancellation) until the test
    /// opens <see cref="Release"/>. <see cref="Holding"/> completes once <paramref name="holding"/> uploads are held.</summary>
    private sealed class HoldingHandler(KafkaOptions options, int holding) : IUploadHandler
    {
        private int _held;
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Fire { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Holding { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int Returned;

        public async Task<IReadOnlyList<OutboundMessage>> HandleAsync(ConsumeResult<byte[]?, byte[]?> upload, CancellationToken ct)
        {
            var key = Encoding.UTF8.GetString(upload.Message.Key!);
            if (key == "first") await Fire.Task;
            else
            {
                if (Interlocked.Increment(ref _held) >= holding) Holding.TrySetResult();
                try
                {
                    if (upload.Offset.Value % 2 == 0) await Task.Delay(Timeout.Infinite, ct);
                    else await Release.Task;
                }
                finally
                {
                    Interlocked.Increment(ref Returned);
                }
            }
            return [new OutboundMessage(options.AllowTopic, upload.Message.Key, Encoding.UTF8.GetBytes(key), new Headers())];
        }
    }

    [Fact]
    public async Task A_fatal_error_with_hundreds_in_flight_stops_in_order_and_nothing_is_produced_after_dispose()
    {
        var options = _harness.Options(o =>
        {
            o.Properties["message.timeout.ms"] = "3000";
            o.MaxInFlight = 300;
            o.ShutdownTimeout = TimeSpan.FromSeconds(3);
        });
        _harness.Produce(Enumerable.Range(0, 400).Select(i => PoisonHarness.Good(i == 0 ? "first" : $"u-{i:D3}")));
        var handler = new HoldingHandler(options, holding: 200);
        var consumer = new UploadConsumer(options, handler, ConsoleTestLogger.Instance);
        var run = Task.Run(() => consumer.RunAsync(CancellationToken.None), Ct);
        await handler.Holding.Task.WaitAsync(TimeSpan.FromSeconds(60), Ct);

        // Every produce request is refused for good from now on: the first decision's delivery report is fatal.
        _harness.Broker.InjectRequestErrors(0, Enumerable.Repeat(ErrorCode.TopicAuthorizationFailed, 100).ToArray());
        handler.Fire.SetResult();
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => run.WaitAsync(TimeSpan.FromSeconds(60), Ct));
        Assert.Contains("pipeline failed", failure.Message);
        Assert.True(consumer.InFlight >= 200, $"{consumer.InFlight} in flight");
        consumer.Dispose();

        // Cancelled by the stop: the held uploads whose handler honours its token (half of them) returned.
        int held = (int)consumer.Consumed - 1;
        Assert.True(Volatile.Read(ref handler.Returned) >= held / 2 - 1, $"{handler.Returned} of {held} held uploads returned");

        // The others finish now, after the producer is gone: none of them may produce (before the fix: a produce on
        // the disposed producer, which crashes the process).
        handler.Release.SetResult();
        await consumer.Idle.WaitAsync(TimeSpan.FromSeconds(30), Ct); // every upload's task has ended
        Assert.Equal(held, Volatile.Read(ref handler.Returned));
        Assert.Empty(_harness.Read(options.AllowTopic));
        Assert.True(_harness.Committed(options.GroupId).Committed <= 0);
        consumer.Dispose(); // twice is harmless
    }

    [Fact]
    public async Task A_fatal_error_in_a_replay_cancels_its_in_flight_uploads_and_stops_in_order()
    {
        var options = _harness.Options(o => o.Properties["message.timeout.ms"] = "3000");
        _harness.Produce(Enumerable.Range(0, 41).Select(i => PoisonHarness.Good(i == 0 ? "first" : $"u-{i:D3}")));
        ReplayPlan plan;
        using (var resolver = new ReplayRangeResolver(options, ReplayTopics.GroupId("fatal")))
            plan = resolver.Resolve(Topics.Uploads, ReplayBound.Parse("earliest"), ReplayBound.Parse("now"));
        var handler = new HoldingHandler(options, holding: 40);
        using var runner = new ReplayRunner(options, plan, handler, new ReplayOptions { ShutdownTimeout = TimeSpan.FromSeconds(3) }, ConsoleTestLogger.Instance);
        var run = runner.RunAsync(Ct);
        await handler.Holding.Task.WaitAsync(TimeSpan.FromSeconds(60), Ct); // every upload after the first is held

        // Every produce request is refused for good from now on: the first outcome's delivery report is fatal.
        _harness.Broker.InjectRequestErrors(0, Enumerable.Repeat(ErrorCode.TopicAuthorizationFailed, 100).ToArray());
        handler.Fire.SetResult();
        var result = await run.WaitAsync(TimeSpan.FromSeconds(60), Ct);
        Assert.False(result.Completed);
        Assert.Contains("publishing failed", result.Error);
        // Cancelled by the stop before the run returned: the held uploads that honour their token (offsets 2, 4, … 40).
        Assert.Equal(20, Volatile.Read(ref handler.Returned));

        // The others finish now, after the stop: none of them may produce.
        handler.Release.SetResult();
        await runner.Idle.WaitAsync(TimeSpan.FromSeconds(30), Ct); // every upload's task has ended
        Assert.Equal(40, Volatile.Read(ref handler.Returned));
        Assert.Empty(_harness.Read(options.AllowTopic));
        Assert.True(_harness.Committed(plan.GroupId).Committed <= 0);
    }
}
