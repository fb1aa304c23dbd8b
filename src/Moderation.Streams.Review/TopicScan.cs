using Confluent.Kafka;
using Moderation.Streams.Kafka;

namespace Moderation.Streams.Review;

/// <summary>Reads topics from given offsets up to their ends as they were when the read began (assign-only consumer,
/// nothing committed): the console's way to look back at what Kafka recorded (recovery, rebuild, label export).</summary>
public static class TopicScan
{
    /// <param name="startAt">Where to start in a partition; null = its beginning. A start at or past the end skips it.</param>
    /// <param name="deadline">Bounds a broker that stops answering mid-read.</param>
    /// <exception cref="TimeoutException">The read took longer than <paramref name="deadline"/>.</exception>
    public static IEnumerable<ConsumeResult<byte[]?, byte[]?>> ReadToEnd(KafkaOptions kafka, IEnumerable<string> topics, string groupId,
        Func<TopicPartition, long?>? startAt = null, TimeSpan? deadline = null, CancellationToken ct = default)
    {
        var config = KafkaClientConfig.Consumer(kafka);
        config.GroupId = groupId;
        config.GroupInstanceId = null;
        config.IsolationLevel = IsolationLevel.ReadUncommitted;
        config.EnablePartitionEof = true;
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        using var admin = new AdminClientBuilder(new AdminClientConfig(config)).SetLogHandler((_, _) => { }).Build();
        var ends = new Dictionary<TopicPartition, long>();
        var assign = new List<TopicPartitionOffset>();
        foreach (var topic in topics.Distinct())
            foreach (var p in admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics.Where(t => t.Error.Code == ErrorCode.NoError).SelectMany(t => t.Partitions))
            {
                var tp = new TopicPartition(topic, p.PartitionId);
                var w = consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(10));
                long from = Math.Max(startAt?.Invoke(tp) ?? w.Low.Value, w.Low.Value);
                if (from >= w.High.Value) continue;
                ends[tp] = w.High.Value;
                assign.Add(new TopicPartitionOffset(tp, from));
            }
        if (assign.Count == 0) yield break;
        consumer.Assign(assign);
        var open = new HashSet<TopicPartition>(ends.Keys);
        var until = DateTime.UtcNow + (deadline ?? TimeSpan.FromMinutes(10));
        while (open.Count > 0 && !ct.IsCancellationRequested)
        {
            if (DateTime.UtcNow > until) throw new TimeoutException($"reading {string.Join(", ", ends.Keys.Select(k => k.Topic).Distinct())} to the end took too long");
            var r = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (r is null) continue;
            if (r.IsPartitionEOF || r.Offset.Value + 1 >= ends[r.TopicPartition]) open.Remove(r.TopicPartition);
            if (!r.IsPartitionEOF && r.Message is not null) yield return r;
        }
    }
}
