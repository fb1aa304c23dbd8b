using System.Text;
using Confluent.Kafka;

namespace Moderation.Streams.Kafka.Replay;

/// <summary>Reads decision and DLQ topics from the beginning to given (or current) end offsets.</summary>
internal static class TopicReader
{
    public static Dictionary<TopicPartition, long> EndOffsets(KafkaOptions kafka, IEnumerable<string> topics, TimeSpan timeout)
    {
        using var consumer = Consumer(kafka);
        var ends = new Dictionary<TopicPartition, long>();
        foreach (var tp in Partitions(kafka, topics, timeout))
            ends[tp] = consumer.QueryWatermarkOffsets(tp, timeout).High.Value;
        return ends;
    }

    /// <param name="until">Exclusive end per partition; null = the current end. Partitions not in it are not read.</param>
    /// <param name="keep">Only these content ids (matched on the record key first, without parsing the rest).</param>
    public static List<PublishedOutcome> Read(KafkaOptions kafka, IEnumerable<string> topics, IReadOnlyDictionary<TopicPartition, long>? until,
        IReadOnlySet<string>? keep, TimeSpan timeout)
    {
        var topicList = topics.ToList();
        var ends = until is null ? EndOffsets(kafka, topicList, timeout) : new Dictionary<TopicPartition, long>(until);
        var pending = ends.Where(e => e.Value > 0 && topicList.Contains(e.Key.Topic)).ToDictionary(e => e.Key, e => e.Value);
        var outcomes = new List<PublishedOutcome>();
        if (pending.Count == 0) return outcomes;
        using var consumer = Consumer(kafka);
        consumer.Assign(pending.Keys.Select(tp => new TopicPartitionOffset(tp, Offset.Beginning)));
        var idle = DateTime.UtcNow + timeout;
        while (pending.Count > 0)
        {
            if (DateTime.UtcNow > idle)
                throw new TimeoutException($"reading {string.Join(",", pending.Keys.Select(k => k.ToString()))}: nothing arrived for {timeout}");
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r is null) continue;
            idle = DateTime.UtcNow + timeout;
            if (!pending.TryGetValue(r.TopicPartition, out var end)) continue;
            if (r.IsPartitionEOF || r.Offset.Value >= end)
            {
                if (r.Offset.Value >= end) pending.Remove(r.TopicPartition);
                continue;
            }
            if (r.Offset.Value >= end - 1) pending.Remove(r.TopicPartition);
            if (keep is not null && r.Message.Key is { Length: > 0 } key && !keep.Contains(Encoding.UTF8.GetString(key))) continue;
            var outcome = PublishedOutcome.FromRecord(r.Topic, kafka.DlqTopic, r.Message.Key, r.Message.Value ?? [], r.Message.Headers, r.Message.Timestamp.UtcDateTime);
            if (outcome is not null && (keep is null || keep.Contains(outcome.ContentId))) outcomes.Add(outcome);
        }
        return outcomes;
    }

    private static List<TopicPartition> Partitions(KafkaOptions kafka, IEnumerable<string> topics, TimeSpan timeout)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig(KafkaSecurity.Properties(kafka)) { BootstrapServers = kafka.BootstrapServers }).Build();
        var wanted = topics.ToHashSet();
        // Topics that do not exist yet (no replay published to them) have nothing to read.
        return [.. admin.GetMetadata(timeout).Topics.Where(t => wanted.Contains(t.Topic) && !t.Error.IsError)
            .SelectMany(t => t.Partitions.Select(p => new TopicPartition(t.Topic, p.PartitionId)))];
    }

    private static IConsumer<byte[]?, byte[]?> Consumer(KafkaOptions kafka) =>
        new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig(KafkaSecurity.ConsumerProperties(kafka))
        {
            BootstrapServers = kafka.BootstrapServers,
            GroupId = "moderation-replay-compare",
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            EnablePartitionEof = true,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
}
