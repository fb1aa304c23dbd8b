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

    /// <summary>The hit of an exact file-hash bank entry: distance 0, the digest's kind, its provenance.</summary>
    public static BankHit Of(DigestEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return new BankHit(entry.Bank, entry.Id, 0) { Digest = entry.Kind, EntryLabel = entry.Label, EntrySource = entry.Source, AddedAt = entry.AddedAt };
    }

    /// <summary>What the PDQ banks and the exact file-hash banks said together: every match of both (closest first, one
    /// per bank); with none, unavailable when either could not be asked, else what the PDQ banks said.</summary>
    public static BankSignal Merge(BankSignal pdq, BankSignal exact)
    {
        ArgumentNullException.ThrowIfNull(pdq);
        ArgumentNullException.ThrowIfNull(exact);
        if (exact.Hits.Count > 0) return BankSignal.FromHits([.. pdq.Hits, .. exact.Hits], pdq.Quality);
        if (exact.IsUnavailable && pdq.Hits.Count == 0) return BankSignal.Unavailable;
        if (pdq.Status == BankStatus.NotConfigured && exact.Status == BankStatus.Checked) return exact;
        return pdq;
    }
}
