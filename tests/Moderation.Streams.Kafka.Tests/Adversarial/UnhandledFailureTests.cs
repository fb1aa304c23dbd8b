using System.Diagnostics.Metrics;
using System.Text;
using Confluent.Kafka;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Kafka.Tests.Adversarial;

/// <summary>
/// An upload whose handler throws is decided by the handler's own fallback (<see cref="IUploadHandler.Unhandled"/>:
/// the policy's <c>unscreenable</c>) or, without one, sent to the DLQ as <c>internal</c>; and every DLQ record the loop
/// publishes, whatever wrote it, is counted in <c>moderation.dlq</c> with its code.
/// </summary>
public sealed class UnhandledFailureTests : IDisposable
{
    private readonly PoisonHarness _harness = new();

    public void Dispose() => _harness.Dispose();

    /// <summary>Keys <c>boom*</c> throw; <c>bad*</c> get the handler's own DLQ record; the rest an allow.</summary>
    private class Throwing(KafkaOptions options) : IUploadHandler
    {
        protected KafkaOptions Options => options;

        public Task<IReadOnlyList<OutboundMessage>> HandleAsync(ConsumeResult<byte[]?, byte[]?> upload, CancellationToken ct)
        {
            var key = Encoding.UTF8.GetString(upload.Message.Key!);
            if (key.StartsWith("boom", StringComparison.Ordinal)) throw new InvalidOperationException("the service broke");
            if (key.StartsWith("bad", StringComparison.Ordinal))
                return Task.FromResult<IReadOnlyList<OutboundMessage>>([DeadLetter.Create(options, upload, ErrorCodes.InvalidEvent, "not an upload")]);
            return Task.FromResult<IReadOnlyList<OutboundMessage>>([new OutboundMessage(options.AllowTopic, upload.Message.Key, "ok"u8.ToArray(), new Headers())]);
        }
    }

    /// <summary>Its policy sends uploads it could not screen to review.</summary>
    private sealed class ThrowingWithReview(KafkaOptions options) : Throwing(options), IUploadHandler
    {
        public IReadOnlyList<OutboundMessage>? Unhandled(ConsumeResult<byte[]?, byte[]?> upload, Exception error) =>
            [new OutboundMessage(Options.ReviewTopic, upload.Message.Key, Encoding.UTF8.GetBytes("fail-closed: " + error.Message), new Headers())];
    }

    private sealed class DlqCounts : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Dictionary<string, long> _counts = [];

        public DlqCounts(string dlqTopic)
        {
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == KafkaTelemetry.MeterName && instrument.Name == KafkaTelemetry.DeadLetterCounter) l.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                string? code = null, topic = null;
                foreach (var tag in tags)
                {
                    if (tag.Key == "code") code = tag.Value as string;
                    if (tag.Key == "messaging.destination.name") topic = tag.Value as string;
                }
                if (topic != dlqTopic || code is null) return;
                lock (_counts) _counts[code] = _counts.GetValueOrDefault(code) + value;
            });
            _listener.Start();
        }

        public Dictionary<string, long> Snapshot()
        {
            lock (_counts) return new Dictionary<string, long>(_counts);
        }

        public void Dispose() => _listener.Dispose();
    }

    private async Task RunAsync(KafkaOptions options, IUploadHandler handler, int uploads)
    {
        using var consumer = new UploadConsumer(options, handler, ConsoleTestLogger.Instance);
        await Eventually.RunUntil(consumer, () => consumer.Consumed >= uploads && consumer.InFlight == 0 && _harness.Committed(options.GroupId).Committed >= uploads);
    }

    private static IEnumerable<Message<byte[]?, byte[]?>> Uploads() =>
        new[] { "ok-0", "boom-1", "bad-2", "ok-3", "boom-4" }.Select(PoisonHarness.Good);

    [Fact]
    public async Task Without_a_fallback_a_failed_upload_goes_to_the_dlq_as_internal_and_every_dlq_record_is_counted_with_its_code()
    {
        // A DLQ topic of its own, so the count is this test's alone.
        var options = _harness.Options(o => o.DlqTopic = "dlq-" + Guid.NewGuid().ToString("N")[..8]);
        _harness.Produce(Uploads());
        using var counts = new DlqCounts(options.DlqTopic);

        await RunAsync(options, new Throwing(options), 5);

        var dlq = _harness.Read(options.DlqTopic);
        Assert.Equal(["bad-2", "boom-1", "boom-4"], dlq.Select(r => r.KeyText).Order());
        Assert.Equal([ErrorCodes.Internal, ErrorCodes.Internal], dlq.Where(r => r.KeyText.StartsWith("boom")).Select(r => r.Header(DlqHeaders.ErrorCode)));
        // Before the fix the loop's own DLQ records ('internal') were never counted, nor were the handler's.
        var counted = counts.Snapshot();
        Assert.Equal(2, counted.GetValueOrDefault(ErrorCodes.Internal));
        Assert.Equal(1, counted.GetValueOrDefault(ErrorCodes.InvalidEvent));
    }

    [Fact]
    public async Task A_handler_with_a_fallback_decides_its_failed_uploads_itself_and_nothing_reaches_the_dlq()
    {
        var options = _harness.Options(o => o.DlqTopic = "dlq-" + Guid.NewGuid().ToString("N")[..8]);
        _harness.Produce(Uploads());
        using var counts = new DlqCounts(options.DlqTopic);

        await RunAsync(options, new ThrowingWithReview(options), 5);

        // Before the fix the catch-all wrote a DLQ record whatever the handler's policy said.
        var review = _harness.Read(options.ReviewTopic);
        Assert.Equal(["boom-1", "boom-4"], review.Select(r => r.KeyText).Order());
        Assert.All(review, r => Assert.Equal("fail-closed: the service broke", Encoding.UTF8.GetString(r.Value)));
        Assert.Equal(["bad-2"], _harness.Read(options.DlqTopic).Select(r => r.KeyText));
        Assert.Equal(1, counts.Snapshot().GetValueOrDefault(ErrorCodes.InvalidEvent));
        Assert.Equal(0, counts.Snapshot().GetValueOrDefault(ErrorCodes.Internal));
    }
}
