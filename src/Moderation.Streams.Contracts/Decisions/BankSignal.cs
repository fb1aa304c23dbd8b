namespace Moderation.Streams.Contracts;

/// <summary>What the hash banks said about an upload: whether they could be asked, and the closest match in each bank
/// that matched. Which of them decides is the policy's business (<see cref="Decider.DecisiveBank"/>).</summary>
public sealed record BankSignal
{
    private BankSignal(BankStatus status, IReadOnlyList<BankHit> hits, int? quality) => (Status, Hits, Quality) = (status, hits, quality);

    public BankStatus Status { get; }

    /// <summary>The closest match of each bank that matched (at most one per bank), closest first; empty when none.</summary>
    public IReadOnlyList<BankHit> Hits { get; }

    /// <summary>The closest match in any bank, before the policy's rules; null when none.</summary>
    public BankHit? Match => Hits.Count > 0 ? Hits[0] : null;

    /// <summary>The PDQ quality of the upload's hash that matched (a bank's <c>min_quality</c>); null when not known.</summary>
    public int? Quality { get; }

    /// <summary>No banks are configured: nothing to match, nothing to fail closed on.</summary>
    public static BankSignal NotConfigured { get; } = new(BankStatus.NotConfigured, [], null);

    /// <summary>The banks exist but no copy is fresh enough to trust: the decision fails closed.</summary>
    public static BankSignal Unavailable { get; } = new(BankStatus.Unavailable, [], null);

    /// <summary>The banks were asked and nothing matched.</summary>
    public static BankSignal NoMatch { get; } = new(BankStatus.Checked, [], null);

    public static BankSignal Matched(BankHit match, int? quality = null) =>
        new(BankStatus.Checked, [match ?? throw new ArgumentNullException(nameof(match))], quality);

    /// <summary>The banks were asked; <paramref name="hits"/> are their matches (any number, in any order: kept closest
    /// first, one per bank).</summary>
    public static BankSignal FromHits(IEnumerable<BankHit> hits, int? quality = null)
    {
        ArgumentNullException.ThrowIfNull(hits);
        var best = hits.GroupBy(h => h.Bank, StringComparer.Ordinal).Select(g => g.MinBy(h => h.Distance)!)
            .OrderBy(h => h.Distance).ThenBy(h => h.Bank, StringComparer.Ordinal).ToList();
        return best.Count == 0 && quality is null ? NoMatch : new(BankStatus.Checked, best, quality);
    }

    public bool IsUnavailable => Status == BankStatus.Unavailable;
}
