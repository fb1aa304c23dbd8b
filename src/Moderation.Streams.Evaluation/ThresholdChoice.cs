namespace Moderation.Streams.Evaluation;

/// <summary>The threshold of one class for the proposed policy, and why.</summary>
public sealed record ThresholdChoice(string Label, float? Takedown, float? Review, string Note);
