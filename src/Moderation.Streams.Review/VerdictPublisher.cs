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

    /// <summary>How far before a verdict began the recovery scan starts (producer clocks and broker timestamps differ a little).</summary>
    public static readonly TimeSpan ScanSlack = TimeSpan.FromMinutes(2);

    private readonly KafkaOptions _kafka;
    private readonly string _reviewsTopic;
    private readonly IProducer<byte[]?, byte[]> _producer;

    public VerdictPublisher(KafkaOptions kafka, string reviewsTopic)
    {
        _kafka = kafka;
        _reviewsTopic = reviewsTopic;
        _producer = new ProducerBuilder<byte[]?, byte[]>(KafkaClientConfig.Producer(kafka)).SetLogHandler((_, _) => { }).Build();
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

    /// <summary>Which records of the pending verdicts are already on their topics: each topic is read from a little before
    /// the earliest verdict began to its end, matching the verdict-id header.</summary>
    public async Task<IReadOnlyDictionary<string, PublishedParts>> FindPublishedAsync(IReadOnlyList<VerdictRecord> pending, CancellationToken ct)
    {
        var found = pending.ToDictionary(p => p.VerdictId, _ => new PublishedParts(false, false));
        if (pending.Count == 0) return found;
        var since = pending.Min(p => p.StartedAt) - ScanSlack;
        var topics = new HashSet<string> { _reviewsTopic };
        foreach (var p in pending) topics.Add(DecisionTopic(p.Event.Verdict));
        await Task.Run(() =>
        {
            foreach (var topic in topics)
                foreach (var id in Scan(topic, since, found.Keys.ToHashSet(), ct))
                    found[id] = topic == _reviewsTopic ? found[id] with { Verdict = true } : found[id] with { Decision = true };
        }, ct).ConfigureAwait(false);
        return found;
    }

    private IEnumerable<string> Scan(string topic, DateTimeOffset since, HashSet<string> ids, CancellationToken ct)
    {
        var config = KafkaClientConfig.Consumer(_kafka);
        config.GroupId = "moderation-review-recovery";
        config.GroupInstanceId = null;
        config.IsolationLevel = IsolationLevel.ReadUncommitted;
        config.EnablePartitionEof = true;
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        using var admin = new DependentAdminClientBuilder(_producer.Handle).Build();
        var metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(10));
        var partitions = metadata.Topics.SelectMany(t => t.Partitions).Select(p => new TopicPartition(topic, p.PartitionId)).ToList();
        if (partitions.Count == 0) yield break;
        var starts = consumer.OffsetsForTimes(partitions.Select(p => new TopicPartitionTimestamp(p, new Timestamp(since.UtcDateTime))), TimeSpan.FromSeconds(10));
        var ends = partitions.ToDictionary(p => p.Partition.Value, p => consumer.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10)).High.Value);
        var assign = starts.Where(s => s.Offset != Offset.End && s.Offset.Value >= 0 && s.Offset.Value < ends[s.Partition.Value]).ToList();
        if (assign.Count == 0) yield break;
        consumer.Assign(assign.Select(s => new TopicPartitionOffset(s.TopicPartition, s.Offset)));
        var open = assign.Select(s => s.Partition.Value).ToHashSet();
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (open.Count > 0 && !ct.IsCancellationRequested)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"reading {topic} back to recover pending verdicts took over 2 minutes");
            var r = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (r is null) continue;
            if (r.IsPartitionEOF || r.Offset.Value + 1 >= ends[r.Partition.Value]) open.Remove(r.Partition.Value);
            if (r.IsPartitionEOF || r.Message?.Headers is null) continue;
            if (r.Message.Headers.TryGetLastBytes(VerdictIdHeader, out var raw) && Encoding.ASCII.GetString(raw) is var id && ids.Contains(id))
                yield return id;
        }
    }

    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(5));
        _producer.Dispose();
    }
}
