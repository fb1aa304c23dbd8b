using System.Text.Json;
using System.Text.Json.Serialization;

namespace Moderation.Streams.Contracts;

public static class Actions
{
    public const string Takedown = "takedown";
    public const string Review = "review";
    public const string Allow = "allow";

    public static IReadOnlyList<string> All { get; } = [Takedown, Review, Allow];

    /// <summary>Severity order used to combine reasons: takedown &gt; review &gt; allow.</summary>
    public static int Severity(string action) => action switch
    {
        Takedown => 2,
        Review => 1,
        Allow => 0,
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "unknown action"),
    };
}

/// <summary>One decision per upload, published to the per-action topic (see DESIGN.md).</summary>
public sealed record DecisionEvent
{
    public required string ContentId { get; init; }
    public required string Action { get; init; }
    public required IReadOnlyList<DecisionReason> Reasons { get; init; }
    public IReadOnlyDictionary<string, float>? Scores { get; init; }
    public PdqInfo? Pdq { get; init; }
    public required string PolicyVersion { get; init; }
    public string? ModelVersion { get; init; }
    public bool Cached { get; init; }
    public required DateTimeOffset DecidedAt { get; init; }
    public long LatencyMs { get; init; }
    public SourceInfo? Source { get; init; }

    public byte[] ToUtf8Json() => JsonSerializer.SerializeToUtf8Bytes(this, ContractJson.Options);

    public static DecisionEvent FromUtf8Json(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize<DecisionEvent>(json, ContractJson.Options)
        ?? throw new JsonException("null decision");
}

/// <summary>Why an action was taken. Fields that do not apply to a source are omitted.</summary>
public sealed record DecisionReason
{
    /// <summary><c>model</c>, <c>bank</c>, <c>cache</c> or <c>fail-closed</c>.</summary>
    public required string Source { get; init; }
    public string? Bank { get; init; }
    public int? Distance { get; init; }
    public string? MatchId { get; init; }
    public string? Model { get; init; }
    public string? Label { get; init; }
    public float? Score { get; init; }
    public float? Threshold { get; init; }
    public string? Code { get; init; }
    public string? Message { get; init; }

    /// <summary>Videos: presentation times (ms) of the sampled frames that drove this reason.</summary>
    public IReadOnlyList<long>? FrameTimestampsMs { get; init; }

    /// <summary>Videos: how many frames were sampled (the M of "N of M frames").</summary>
    public int? FramesSampled { get; init; }
}

public sealed record PdqInfo(string Hash, int Quality);

public sealed record SourceInfo(string Topic, int Partition, long Offset);

/// <summary>The one JSON configuration of the wire formats: snake_case, nulls omitted.</summary>
public static class ContractJson
{
    public static JsonSerializerOptions Options { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = false,
        Converters = { new UtcTimestampConverter() },
    };

    /// <summary>Timestamps are written as UTC with milliseconds (<c>2026-11-25T10:00:00.120Z</c>).</summary>
    private sealed class UtcTimestampConverter : JsonConverter<DateTimeOffset>
    {
        public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.GetDateTimeOffset();

        public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture));
    }
}
