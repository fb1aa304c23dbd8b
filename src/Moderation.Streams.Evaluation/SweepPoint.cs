namespace Moderation.Streams.Evaluation;

/// <summary>What "score ≥ threshold means positive" gives on a labelled set.</summary>
public sealed record SweepPoint(float Threshold, int TruePositives, int FalsePositives, int FalseNegatives)
{
    public double Precision => ClassMetrics.Ratio(TruePositives, TruePositives + FalsePositives);
    public double Recall => ClassMetrics.Ratio(TruePositives, TruePositives + FalseNegatives);
    public double F1 => TruePositives == 0 ? 0 : 2.0 * TruePositives / (2 * TruePositives + FalsePositives + FalseNegatives);
}
