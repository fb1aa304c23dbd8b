namespace Moderation.Streams.Contracts;

/// <summary>A bank entry an upload matched, as the decision reports it.</summary>
/// <param name="Bank">The bank's name (the policy's <c>banks</c> rule for it says what the match does).</param>
/// <param name="MatchId">The bank entry's id (a banked video's id without its <c>#t=</c>).</param>
/// <param name="Distance">Hamming distance of the closest matching hash.</param>
/// <param name="Message">Videos and animations: how many frames matched what.</param>
/// <param name="FrameTimestampsMs">Videos and animations: the upload's frames that matched.</param>
/// <param name="FramesSampled">Videos and animations: how many frames were hashed.</param>
public sealed record BankHit(string Bank, string MatchId, int Distance, string? Message = null,
    IReadOnlyList<long>? FrameTimestampsMs = null, int? FramesSampled = null)
{
    /// <summary>The entry is quarantined (it matched too many uploads, <see cref="PolicyBankFloods"/>): a match in it is
    /// at most a review until it is released.</summary>
    public bool Quarantined { get; init; }

    /// <summary>Provenance: the entry's label as imported (e.g. the category on the sharing list); null when none.</summary>
    public string? EntryLabel { get; init; }

    /// <summary>Provenance: where the entry came from (the import's file or list name); null when not recorded.</summary>
    public string? EntrySource { get; init; }

    /// <summary>Provenance: when the entry was added to the bank; null when not known.</summary>
    public DateTimeOffset? AddedAt { get; init; }

    /// <summary>An exact file-hash bank matched the upload's bytes: <c>md5</c> or <c>sha256</c> (the distance is 0); null
    /// for a PDQ match.</summary>
    public string? Digest { get; init; }
}
