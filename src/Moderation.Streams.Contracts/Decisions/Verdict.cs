namespace Moderation.Streams.Contracts;

/// <summary>What <see cref="Decider.Decide"/> made of an upload's signals.</summary>
/// <param name="Action"><c>takedown</c>, <c>review</c> or <c>allow</c>; <see cref="Policy.DeadLetter"/> when the upload
/// could not be screened and the policy sends such uploads to the DLQ.</param>
public sealed record Verdict(string Action, IReadOnlyList<DecisionReason> Reasons)
{
    /// <summary>The highest score per class over the frames, when the model scored the upload.</summary>
    public IReadOnlyDictionary<string, float>? Scores { get; init; }

    /// <summary>The frame (row of <see cref="ModelSignal.Frames"/>) that stands for the decision: the one that drove its
    /// first model reason, else the one with the highest score of any class but <c>neutral</c>.</summary>
    public int? TopFrame { get; init; }

    /// <summary>The model was asked (it scored, or it failed): the decision names the model version.</summary>
    public bool ModelRan { get; init; }

    /// <summary>The action and reasons come from a cached decision (<see cref="UploadSignals.Cached"/>).</summary>
    public bool FromCache { get; init; }

    /// <summary>The bank match that decided a takedown before (or instead of) the model.</summary>
    public BankHit? BankTakedown { get; init; }

    /// <summary>The verdict had every bank been acted on (<see cref="Policy.ForBankTrial"/>), when a bank tried on a share
    /// of uploads matched this one outside its share (<see cref="Decider.Untried"/>); null otherwise. Recorded as
    /// would-have-matched on the shadow topic, never acted on.</summary>
    public Verdict? WouldBe { get; init; }

    /// <summary>The upload goes to the DLQ (code <c>internal</c>) rather than to a decision topic.</summary>
    public bool IsDeadLetter => Action == Policy.DeadLetter;
}
