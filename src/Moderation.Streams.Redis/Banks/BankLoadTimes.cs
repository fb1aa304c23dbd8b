namespace Moderation.Streams.Redis.Banks;

/// <summary>A bank streamed into an empty index: its entries, the time to read and decode them (the store's scan) and
/// the time to index them (columns, multi-index, position table).</summary>
public sealed record BankLoadTimes(string Bank, int Entries, TimeSpan Read, TimeSpan Index)
{
    /// <summary>Read from the bank's snapshot (its blocks and the entries changed since), not scanned.</summary>
    public bool FromSnapshot { get; init; }
}
