namespace Moderation.Streams.Contracts;

/// <summary>What the hash banks said about an upload: whether they could be asked, and the best match if any.</summary>
public sealed record BankSignal
{
    private BankSignal(BankStatus status, BankHit? match) => (Status, Match) = (status, match);

    public BankStatus Status { get; }

    /// <summary>The match that decides (the policy's rule for its bank says what it does); null when none.</summary>
    public BankHit? Match { get; }

    /// <summary>No banks are configured: nothing to match, nothing to fail closed on.</summary>
    public static BankSignal NotConfigured { get; } = new(BankStatus.NotConfigured, null);

    /// <summary>The banks exist but no copy is fresh enough to trust: the decision fails closed.</summary>
    public static BankSignal Unavailable { get; } = new(BankStatus.Unavailable, null);

    /// <summary>The banks were asked and nothing matched.</summary>
    public static BankSignal NoMatch { get; } = new(BankStatus.Checked, null);

    public static BankSignal Matched(BankHit match) => new(BankStatus.Checked, match ?? throw new ArgumentNullException(nameof(match)));

    public bool IsUnavailable => Status == BankStatus.Unavailable;
}
