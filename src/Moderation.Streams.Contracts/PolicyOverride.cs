namespace Moderation.Streams.Contracts;

/// <summary>Thresholds for one surface; each table replaces the base thresholds for the classes it names.</summary>
public sealed record PolicyOverride
{
    public IReadOnlyDictionary<string, float>? Takedown { get; init; }
    public IReadOnlyDictionary<string, float>? Review { get; init; }
}
