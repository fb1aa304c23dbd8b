using Moderation.Streams.Hashing.Banks;

namespace Moderation.Streams.Redis.Banks;

/// <summary>A bank as read from the store: its version, when its last change was written (null when the writer did not
/// record it), and its entries.</summary>
public sealed record BankCopy(long Version, DateTimeOffset? ChangedAt, List<BankEntry> Entries)
{
    /// <summary>Fields of the bank the read skipped because they could not be decoded.</summary>
    public int Undecodable { get; init; }
}
