namespace Moderation.Streams.Contracts;

/// <summary>Whether the hash banks could be asked about an upload.</summary>
public enum BankStatus
{
    /// <summary>No banks are configured on this worker.</summary>
    NotConfigured,
    /// <summary>The banks were asked (a match or not).</summary>
    Checked,
    /// <summary>No bank copy is fresh enough to trust.</summary>
    Unavailable,
}
