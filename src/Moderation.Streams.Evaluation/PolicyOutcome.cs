namespace Moderation.Streams.Evaluation;

/// <summary>What a policy does to a labelled set: how precise its takedowns are and how much unsafe content slips through.</summary>
public sealed record PolicyOutcome(string Version, int Takedowns, int CorrectTakedowns, int Reviews, int UnsafeReviewed, int Allowed, int UnsafeAllowed, int Unsafe)
{
    public double TakedownPrecision => ClassMetrics.Ratio(CorrectTakedowns, Takedowns);
    public double TakedownRecall => ClassMetrics.Ratio(CorrectTakedowns, Unsafe);

    /// <summary>Share of unsafe content allowed (neither taken down nor reviewed).</summary>
    public double SlipThrough => ClassMetrics.Ratio(UnsafeAllowed, Unsafe);
}
