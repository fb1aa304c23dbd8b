using Moderation.Streams.Contracts;

namespace Moderation.Streams.Evaluation;

/// <summary>Everything the report shows.</summary>
public sealed record EvaluationResult(
    LabelMode Mode,
    IReadOnlyList<ScoredImage> Images,
    IReadOnlyList<string> UnsafeClasses,
    ConfusionMatrix Confusion,
    IReadOnlyDictionary<string, ThresholdSweep> Sweeps,
    IReadOnlyDictionary<string, SweepPoint?> AtTarget,
    Policy Base,
    PolicyOutcome Current,
    Policy Proposed,
    PolicyOutcome ProposedOutcome,
    IReadOnlyList<ThresholdChoice> Choices,
    EvaluationSettings Settings)
{
    /// <summary>The proposed takedowns reach the target precision on this set (and take something down).</summary>
    public bool MeetsTarget => ProposedOutcome.Takedowns > 0 && ProposedOutcome.TakedownPrecision >= Settings.TargetPrecision;

    /// <summary>Why the proposal must not replace the base policy: a class the set has no labelled example of loses or
    /// raises a threshold, or more than <see cref="EvaluationSettings.MaxReviewShare"/> of the set goes to review.
    /// Empty when it is safe to write.</summary>
    public IReadOnlyList<string> Problems { get; init; } = [];
}
