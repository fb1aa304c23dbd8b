using System.Text.Json;

namespace Moderation.Streams.Contracts;

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
