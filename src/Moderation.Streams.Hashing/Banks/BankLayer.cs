namespace Moderation.Streams.Hashing.Banks;

/// <summary>One segment of a <see cref="BankIndex"/> snapshot with the positions removed from it since it was built
/// (still in its memory, skipped by searches). The removed set is never changed once a snapshot holds it.</summary>
internal readonly record struct BankLayer(BankSegment Segment, ulong[]? Removed, int RemovedCount)
{
    public static BankLayer Empty { get; } = new(BankSegment.Empty, null, 0);

    /// <summary>Entries of the segment not removed.</summary>
    public int LiveCount => Segment.Count - RemovedCount;

    public bool IsRemoved(int position) => Removed is { } r && (r[position >> 6] & (1UL << position)) != 0;

    /// <summary>The live position of an entry, or -1 (not in the segment, or removed from it).</summary>
    public int Find(string bank, string id)
    {
        int at = Segment.Find(bank, id);
        return at >= 0 && !IsRemoved(at) ? at : -1;
    }

    public static int Words(int count) => (count + 63) >> 6;
}
