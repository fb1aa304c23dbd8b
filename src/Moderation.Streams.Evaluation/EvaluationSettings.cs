namespace Moderation.Streams.Evaluation;

/// <summary>What to look for.</summary>
public sealed record EvaluationSettings
{
    /// <summary>Precision the proposed takedown thresholds must reach on the set.</summary>
    public double TargetPrecision { get; init; } = 0.95;

    /// <summary>Precision of the proposed review band (lower: review is a human look, not an action).</summary>
    public double ReviewPrecision { get; init; } = 0.5;

    /// <summary>Version of the proposed policy; null = the base version + "+eval".</summary>
    public string? ProposedVersion { get; init; }

    /// <summary>Name of the model(s) in reasons and the report.</summary>
    public string Model { get; init; } = "model";

    /// <summary>Largest share of the set the proposed policy may send to human review; review bands proposed from the
    /// set are raised until it holds. Review is a queue of people: a band flagging most uploads is no band.</summary>
    public double MaxReviewShare { get; init; } = DefaultMaxReviewShare;

    public const double DefaultMaxReviewShare = 0.2;
}
