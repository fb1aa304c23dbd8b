namespace Moderation.Streams.Redis.Banks;

/// <summary>Outcome of a bank lookup.</summary>
public enum BankLookupStatus
{
    /// <summary>The banks are loaded and nothing is near the hash (or its quality is too low to match).</summary>
    NoMatch,
    Matched,
    /// <summary>No bank copy fresh enough to trust: the caller must fail closed.</summary>
    Unavailable,
}
