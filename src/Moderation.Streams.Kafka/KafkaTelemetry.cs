using System.Diagnostics.Metrics;

namespace Moderation.Streams.Kafka;

/// <summary>
/// Metrics of the consume loop, named after the OpenTelemetry messaging semantic conventions where they
/// exist: consumed messages, process duration, consumer lag per partition, in-flight uploads, paused partitions.
/// </summary>
public static class KafkaTelemetry
{
    public const string MeterName = "Moderation.Streams.Kafka";
    public const string ConsumedMessages = "messaging.client.consumed.messages";
    public const string ProcessDuration = "messaging.process.duration";
    public const string ConsumerLag = "messaging.kafka.consumer.lag";
    public const string InFlight = "moderation.uploads.inflight";
    public const string PausedPartitions = "moderation.partitions.paused";
    public const string DlqStubs = "moderation.dlq.stubs";
    public const string OptionalRecordsDropped = "moderation.optional.dropped";

    /// <summary>Counter of DLQ records, tagged <c>code</c> (the record's <c>moderation.error.code</c>) and
    /// <c>messaging.destination.name</c>: every one, whatever wrote it (the pipeline, the consume loop's catch-all, a stub).</summary>
    public const string DeadLetterCounter = "moderation.dlq";

    internal static readonly Meter Meter = new(MeterName);
    internal static readonly Counter<long> Consumed = Meter.CreateCounter<long>(ConsumedMessages, "{message}", "Upload events received");
    internal static readonly Histogram<double> Duration = Meter.CreateHistogram<double>(ProcessDuration, "s", "Upload received to its outcome acknowledged (or released into a transaction)",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });

    internal static readonly Counter<long> Stubs = Meter.CreateCounter<long>(DlqStubs, "{record}",
        "Stub DLQ records published in place of outcome records the broker refused (too large, invalid): each is an upload whose real outcome is lost");

    internal static readonly Counter<long> DeadLetters = Meter.CreateCounter<long>(DeadLetterCounter, "{record}", "DLQ records, by error code");

    internal static readonly Counter<long> OptionalDropped = Meter.CreateCounter<long>(OptionalRecordsDropped, "{record}",
        "Optional records (shadow decisions) not delivered and dropped, by topic: live decisions are not affected");

    private static readonly List<WeakReference<UploadConsumer>> Consumers = [];

    static KafkaTelemetry()
    {
        Meter.CreateObservableGauge(ConsumerLag, ObserveLag, "{message}", "High watermark minus the committed (stored) offset, per partition");
        Meter.CreateObservableGauge(InFlight, () => Sum(c => c.InFlight), "{upload}", "Uploads received but not finished");
        Meter.CreateObservableGauge(PausedPartitions, () => Sum(c => c.PausedPartitions), "{partition}", "Partitions paused by backpressure");
    }

    /// <summary>Counts the DLQ records of an upload's outcome (<see cref="DeadLetterCounter"/>).</summary>
    internal static void CountDeadLetters(IReadOnlyList<OutboundMessage> outcome, string dlqTopic)
    {
        foreach (var message in outcome)
            if (message.Topic == dlqTopic) CountDeadLetter(message);
    }

    internal static void CountDeadLetter(OutboundMessage record)
    {
        string code = record.Headers.TryGetLastBytes(Contracts.DlqHeaders.ErrorCode, out var bytes) ? System.Text.Encoding.UTF8.GetString(bytes) : "?";
        DeadLetters.Add(1, new KeyValuePair<string, object?>("code", code), new KeyValuePair<string, object?>("messaging.destination.name", record.Topic));
    }

    internal static void Register(UploadConsumer consumer)
    {
        lock (Consumers)
        {
            Consumers.RemoveAll(w => !w.TryGetTarget(out _));
            Consumers.Add(new WeakReference<UploadConsumer>(consumer));
        }
    }

    internal static void Unregister(UploadConsumer consumer)
    {
        lock (Consumers) Consumers.RemoveAll(w => !w.TryGetTarget(out var c) || c == consumer);
    }

    private static List<UploadConsumer> Live()
    {
        lock (Consumers) return Consumers.Select(w => w.TryGetTarget(out var c) ? c : null).OfType<UploadConsumer>().ToList();
    }

    private static int Sum(Func<UploadConsumer, int> value) => Live().Sum(value);

    private static IEnumerable<Measurement<long>> ObserveLag()
    {
        foreach (var consumer in Live())
        {
            foreach (var (partition, lag) in consumer.Lag)
            {
                yield return new Measurement<long>(lag,
                    new KeyValuePair<string, object?>("messaging.destination.name", partition.Topic),
                    new KeyValuePair<string, object?>("messaging.destination.partition.id", partition.Partition.Value.ToString()),
                    new KeyValuePair<string, object?>("messaging.consumer.group.name", consumer.GroupId));
            }
        }
    }
}
