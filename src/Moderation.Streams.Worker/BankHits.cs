using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing.Banks;

namespace Moderation.Streams.Worker;

/// <summary>Bank matches as the decision reports them.</summary>
public static class BankHits
{
    /// <summary>The hit of a matched <paramref name="entry"/>, with its provenance (label, source, added_at).</summary>
    public static BankHit Of(BankEntry entry, int distance)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return new BankHit(entry.Bank, entry.Id, distance) { EntryLabel = entry.Label, EntrySource = entry.Source, AddedAt = entry.AddedAt };
    }
}
