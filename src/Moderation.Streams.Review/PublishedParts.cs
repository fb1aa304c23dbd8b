namespace Moderation.Streams.Review;

/// <summary>Which of a verdict's two records are on their topics.</summary>
public sealed record PublishedParts(bool Verdict, bool Decision);
