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
}
