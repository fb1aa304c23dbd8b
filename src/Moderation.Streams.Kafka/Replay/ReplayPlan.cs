using Confluent.Kafka;

namespace Moderation.Streams.Kafka.Replay;

/// <summary>A replay range resolved to offsets, with the end offsets captured when it was resolved.</summary>
public sealed record ReplayPlan(string Topic, string GroupId, IReadOnlyList<PartitionRange> Partitions)
{
    public long Total => Partitions.Sum(p => p.Count);
    public long AlreadyDone => Partitions.Sum(p => p.AlreadyDone);
    public long Remaining => Partitions.Sum(p => p.Remaining);

    /// <summary>Offsets below the low watermark that the operator asked for but retention already deleted.</summary>
    public long Unavailable { get; init; }

    public bool Contains(int partition, long offset) =>
        Partitions.Any(p => p.Partition == partition && offset >= p.Start && offset < p.End);

    /// <summary><c>PARTITION:OFFSET,…</c> of the starts and of the ends: a later run given these replays exactly this range.</summary>
    public string StartSpec => string.Join(",", Partitions.Select(p => $"{p.Partition}:{p.Start}"));
    public string EndSpec => string.Join(",", Partitions.Select(p => $"{p.Partition}:{p.End}"));

    public TopicPartition TopicPartition(PartitionRange range) => new(Topic, range.Partition);
}
