using System.Text;
using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Kafka;

namespace Moderation.Streams.Review;

/// <summary>
/// Publishes a verdict's two records, the verdict event on <c>moderation.reviews</c> and the final decision on the
/// takedown or allow topic, each carrying the verdict id in the <see cref="VerdictIdHeader"/> header; and after a crash
/// finds which of them a pending verdict already published (<see cref="FindPublishedAsync"/>) so that nothing is lost and
/// nothing is published twice.
/// </summary>
public sealed class VerdictPublisher : IDisposable
{
    public const string VerdictIdHeader = "moderation.verdict.id";

    private readonly KafkaOptions _kafka;
    private readonly string _reviewsTopic;
    private readonly IProducer<byte[]?, byte[]> _producer;
    private readonly IConsumer<byte[]?, byte[]?> _offsets;
    private readonly Lock _offsetsGate = new();

    public VerdictPublisher(KafkaOptions kafka, string reviewsTopic)
    {
        _kafka = kafka;
        _reviewsTopic = reviewsTopic;
        _producer = new ProducerBuilder<byte[]?, byte[]>(KafkaClientConfig.Producer(kafka)).SetLogHandler((_, _) => { }).Build();
        _offsets = new ConsumerBuilder<byte[]?, byte[]?>(ScanConfig()).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
    }

    private ConsumerConfig ScanConfig()
    {
        var config = KafkaClientConfig.Consumer(_kafka);
        config.GroupId = "moderation-review-recovery";
        config.GroupInstanceId = null;
        config.IsolationLevel = IsolationLevel.ReadUncommitted;
        config.EnablePartitionEof = true;
        return config;
    }

    private static string Key(string topic, int partition) => $"{topic}/{partition.ToString(System.Globalization.CultureInfo.InvariantCulture)}";

    /// <summary>The end offsets of the topics a verdict publishes to, read before it is recorded (see <see cref="VerdictRecord.ScanFrom"/>).</summary>
    /// <exception cref="KafkaException">The broker could not say.</exception>
    public IReadOnlyDictionary<string, long> EndOffsets(string verdict)
    {
        var ends = new Dictionary<string, long>();
        lock (_offsetsGate)
        {
            foreach (var topic in new[] { _reviewsTopic, DecisionTopic(verdict) })
                foreach (var p in Partitions(topic))
                    ends[Key(topic, p.Partition.Value)] = _offsets.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10)).High.Value;
        }
        return ends;
    }

    private List<TopicPartition> Partitions(string topic)
    {
        using var admin = new DependentAdminClientBuilder(_producer.Handle).Build();
        return [.. admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics.SelectMany(t => t.Partitions).Select(p => new TopicPartition(topic, p.PartitionId))];
    }

    public string ReviewsTopic => _reviewsTopic;

    /// <summary>The final decision's topic for a verdict.</summary>
    public string DecisionTopic(string verdict) => _kafka.TopicFor(verdict);

    /// <summary>The decision a verdict publishes: the machine decision's hash, scores and versions, the reviewer's action, and
    /// the one reason <c>{"source":"review","reviewer":…}</c>.</summary>
    public static DecisionEvent FinalDecision(VerdictRecord record) => record.Decision with
    {
        Action = record.Event.Verdict,
        Reasons = [new DecisionReason { Source = "review", Reviewer = record.Event.Reviewer }],
        Cached = false,
        DecidedAt = record.Event.DecidedAt,
        LatencyMs = Math.Max(0, (long)(record.Event.DecidedAt - record.Decision.DecidedAt).TotalMilliseconds),
    };

    /// <summary>Publishes the records of <paramref name="record"/> not in <paramref name="skip"/> and waits for the broker's
    /// acknowledgements.</summary>
    /// <exception cref="ProduceException{TKey, TValue}">The broker did not take one (the verdict stays pending and is retried).</exception>
    public async Task PublishAsync(VerdictRecord record, PublishedParts skip, CancellationToken ct)
    {
        var key = Encoding.UTF8.GetBytes(record.Event.ContentId);
        var sends = new List<Task>(2);
        if (!skip.Verdict) sends.Add(_producer.ProduceAsync(_reviewsTopic, Message(key, record.Event.ToUtf8Json(), record.VerdictId), ct));
        if (!skip.Decision) sends.Add(_producer.ProduceAsync(DecisionTopic(record.Event.Verdict), Message(key, FinalDecision(record).ToUtf8Json(), record.VerdictId), ct));
        await Task.WhenAll(sends).ConfigureAwait(false);
    }

    private static Message<byte[]?, byte[]> Message(byte[] key, byte[] value, string verdictId) => new()
    {
        Key = key, Value = value, Headers = new Headers { { VerdictIdHeader, Encoding.ASCII.GetBytes(verdictId) } },
    };

    /// <summary>Which records of the pending verdicts are already on their topics: each partition is read from the earliest
    /// <see cref="VerdictRecord.ScanFrom"/> offset among them to its end, matching the verdict-id header.</summary>
    public async Task<IReadOnlyDictionary<string, PublishedParts>> FindPublishedAsync(IReadOnlyList<VerdictRecord> pending, CancellationToken ct)
    {
        var found = pending.ToDictionary(p => p.VerdictId, _ => new PublishedParts(false, false));
        if (pending.Count == 0) return found;
        var ids = found.Keys.ToHashSet();
        var topics = new HashSet<string> { _reviewsTopic };
        foreach (var p in pending) topics.Add(DecisionTopic(p.Event.Verdict));
        await Task.Run(() =>
        {
            foreach (var topic in topics)
                foreach (var id in Scan(topic, pending, ids, ct))
                    found[id] = topic == _reviewsTopic ? found[id] with { Verdict = true } : found[id] with { Decision = true };
        }, ct).ConfigureAwait(false);
        return found;
    }

    private IEnumerable<string> Scan(string topic, IReadOnlyList<VerdictRecord> pending, HashSet<string> ids, CancellationToken ct)
    {
        // From the earliest recorded end offset among the pending verdicts (a verdict recorded without them: the start).
        long? From(TopicPartition tp) =>
            pending.Select(p => p.ScanFrom.TryGetValue(Key(tp.Topic, tp.Partition.Value), out var o) ? o : 0).DefaultIfEmpty(0).Min();
        foreach (var r in TopicScan.ReadToEnd(_kafka, [topic], "moderation-review-recovery", From, TimeSpan.FromMinutes(2), ct))
            if (r.Message.Headers?.TryGetLastBytes(VerdictIdHeader, out var raw) == true && Encoding.ASCII.GetString(raw) is var id && ids.Contains(id))
                yield return id;
    }

    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(5));
        _producer.Dispose();
        _offsets.Dispose();
    }
}
