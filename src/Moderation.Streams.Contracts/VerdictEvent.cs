using System.Text.Json;

namespace Moderation.Streams.Contracts;

/// <summary>A reviewer's verdict on a queued item, published to <see cref="Topics.Reviews"/> (key <c>content_id</c>):
/// <c>{"content_id":…,"verdict":"takedown|allow","reviewer":…,"note":…,"banked":{"bank":…,"id":…}|null,"decided_at":…,
/// "review_of":{"policy_version":…,"model_version":…}}</c>. <c>banked</c> is written as <c>null</c> when nothing was banked
/// (the contract names the field either way); other absent fields are omitted.</summary>
public sealed record VerdictEvent
{
    // Both properties are required: the initial values are never observed.
    private readonly string _verdict = null!, _reviewer = null!;
    private readonly string? _note;

    /// <summary>The reviewed upload's id (valid by the upload contract: the console only queues decisions with one).</summary>
    public required string ContentId { get; init; }

    /// <summary><c>takedown</c> or <c>allow</c>.</summary>
    public required string Verdict { get => _verdict; init => _verdict = IsVerdict(value) ? value : throw new ArgumentException($"verdict must be takedown or allow, not '{SafeText.Escape(value, 32)}'", nameof(value)); }

    public required string Reviewer { get => _reviewer; init => _reviewer = SafeText.Escape(value, TextLimits.ReasonNameChars); }

    /// <summary>The reviewer's note, at most <see cref="MaxNoteChars"/> characters.</summary>
    public string? Note { get => _note; init => _note = value is null ? null : SafeText.Escape(value, MaxNoteChars); }

    /// <summary>The bank entry the verdict added (takedowns only), or null.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.Never)]
    public BankedEntry? Banked { get; init; }

    public required DateTimeOffset DecidedAt { get; init; }

    /// <summary>The versions of the machine decision the reviewer judged.</summary>
    public ReviewOf? ReviewOf { get; init; }

    /// <summary>The longest note kept.</summary>
    public const int MaxNoteChars = 2000;

    /// <summary>Whether <paramref name="value"/> is a verdict the contract allows (<c>takedown</c> or <c>allow</c>, exactly).</summary>
    public static bool IsVerdict(string? value) => value is Actions.Takedown or Actions.Allow;

    public byte[] ToUtf8Json() => JsonSerializer.SerializeToUtf8Bytes(this, ContractJson.Options);

    public static VerdictEvent FromUtf8Json(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize<VerdictEvent>(json, ContractJson.Options) ?? throw new JsonException("null verdict");
}
