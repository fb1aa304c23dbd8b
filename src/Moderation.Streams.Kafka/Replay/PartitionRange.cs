namespace Moderation.Streams.Kafka.Replay;

/// <summary>
/// One partition's share of a replay: offsets <see cref="Start"/> (inclusive) to <see cref="End"/> (exclusive),
/// and <see cref="Resume"/>, where this run starts because an earlier run of the same replay committed that far.
/// </summary>
public sealed record PartitionRange(int Partition, long Start, long End, long Resume)
{
    public long Count => Math.Max(0, End - Start);

    /// <summary>Uploads an earlier run of this replay already finished.</summary>
    public long AlreadyDone => Math.Clamp(Resume - Start, 0, Count);

    public long Remaining => Count - AlreadyDone;
}
