namespace Moderation.Streams.Contracts;

/// <summary>A candidate model run beside the live one; optional thresholds replace the live tables for its would-be decisions.</summary>
public sealed record PolicyShadow
{
    public string Model { get; init; } = "";
    public IReadOnlyDictionary<string, float>? Takedown { get; init; }
    public IReadOnlyDictionary<string, float>? Review { get; init; }
}
