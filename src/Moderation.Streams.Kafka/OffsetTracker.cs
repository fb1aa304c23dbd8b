using Confluent.Kafka;

namespace Moderation.Streams.Kafka;

/// <summary>
/// Gap-free offset bookkeeping for one consumer. Uploads of a partition finish out of order (a cache hit
/// overtakes a model call), but the offset stored for commit is always the lowest one not yet finished:
/// nothing after a gap is committed before the gap is closed. Not thread-safe: the poll loop owns it.
/// </summary>
public sealed class OffsetTracker
{
    private readonly Dictionary<TopicPartition, PartitionState> _partitions = [];

    public int InFlight { get; private set; }

    public void Begin(TopicPartition partition, long offset)
    {
        if (!_partitions.TryGetValue(partition, out var state))
            _partitions[partition] = state = new PartitionState { Committable = offset };
        if (offset <= state.LastDispatched)
            throw new InvalidOperationException($"{partition} offset {offset} dispatched again after {state.LastDispatched}");
        state.Pending.Add(offset);
        state.LastDispatched = offset;
        InFlight++;
    }

    /// <summary>
    /// Marks an offset finished. Returns the offset to store (next to consume) when the committable position
    /// advanced, else null. Completions for partitions no longer tracked (revoked or lost) are ignored.
    /// </summary>
    public long? Complete(TopicPartition partition, long offset)
    {
        if (!_partitions.TryGetValue(partition, out var state) || !state.Pending.Remove(offset)) return null;
        InFlight--;
        long committable = state.Pending.Count > 0 ? state.Pending.Min : state.LastDispatched + 1;
        if (offset > committable) state.HeldBack.Add(offset); // finished behind an unfinished upload
        if (committable <= state.Committable) return null;
        if (state.HeldBack.Count > 0) state.HeldBack.RemoveWhere(o => o < committable);
        state.Committable = committable;
        state.Advanced = true;
        return committable;
    }

    public int PendingIn(TopicPartition partition) =>
        _partitions.TryGetValue(partition, out var state) ? state.Pending.Count : 0;

    /// <summary>Uploads of a partition dispatched but not yet committable: those still pending and those finished
    /// behind one of them. What a crash now would make the partition's next owner screen again.</summary>
    public int UncommittedIn(TopicPartition partition) =>
        _partitions.TryGetValue(partition, out var state) ? state.Pending.Count + state.HeldBack.Count : 0;

    /// <summary>The next offset to commit for a partition, or null when nothing finished yet.</summary>
    public long? CommittableOffset(TopicPartition partition) =>
        _partitions.TryGetValue(partition, out var state) && state.Advanced ? state.Committable : null;

    /// <summary>Forgets a partition (revoked after draining, or lost): its late completions are ignored.</summary>
    public void Forget(TopicPartition partition)
    {
        if (_partitions.Remove(partition, out var state)) InFlight -= state.Pending.Count;
    }

    public IEnumerable<TopicPartition> Partitions => _partitions.Keys;

    private sealed class PartitionState
    {
        public SortedSet<long> Pending { get; } = [];
        /// <summary>Finished offsets above the lowest pending one: they commit when it finishes.</summary>
        public SortedSet<long> HeldBack { get; } = [];
        public long LastDispatched { get; set; } = -1;
        /// <summary>Next offset to consume; starts at the first offset dispatched after assignment.</summary>
        public long Committable { get; set; }
        public bool Advanced { get; set; }
    }
}
