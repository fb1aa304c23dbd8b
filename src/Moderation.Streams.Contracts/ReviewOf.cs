namespace Moderation.Streams.Contracts;

/// <summary>The versions of the machine decision a verdict judged (for overturn rates per policy and model).</summary>
public sealed record ReviewOf(string? PolicyVersion, string? ModelVersion);
