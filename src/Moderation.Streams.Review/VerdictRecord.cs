using Moderation.Streams.Contracts;

namespace Moderation.Streams.Review;

/// <summary>A verdict as the store keeps it: written <c>pending</c> before anything is published, <c>done</c> once both
/// records are acknowledged. <see cref="VerdictId"/> rides on both records as a header, so a console restarted mid-verdict
/// finds what it already published and publishes only the rest.</summary>
public sealed record VerdictRecord
{
    public required string VerdictId { get; init; }
    public required VerdictEvent Event { get; init; }
    public required string State { get; init; }
    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>The machine decision judged (its classes and versions feed the overturn counts).</summary>
    public required DecisionEvent Decision { get; init; }

    /// <summary>The item's uploader when known: a takedown is a strike against them.</summary>
    public string? UploaderId { get; init; }

    /// <summary>Where a recovery starts reading for this verdict's records: the end offsets (<c>TOPIC/PARTITION</c> → offset)
    /// of its two topics just before it was recorded. Its records can only lie at or after them.</summary>
    public IReadOnlyDictionary<string, long> ScanFrom { get; init; } = new Dictionary<string, long>();

    /// <summary>What was known of the upload when the verdict was given (its media type and surface decide whether the
    /// verdict may stand in the decision cache).</summary>
    public UploadDetails? Upload { get; init; }

    /// <summary>A media without a PDQ hash (it could not be decoded) is banked by a digest of its bytes instead:
    /// <c>(kind, hex)</c>, into the digest bank of the same name.</summary>
    public BankedDigest? Digest { get; init; }

    /// <summary>Set when the verdict came from a bulk action on a PDQ cluster: the item the reviewer looked at.</summary>
    public string? BulkOf { get; init; }

    public const string Pending = "pending";
    public const string Done = "done";
}
