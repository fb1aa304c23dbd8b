namespace Moderation.Streams.Evaluation;

/// <summary>Precision, recall and F1 of one class; NaN where undefined (nothing predicted, or nothing of the class).</summary>
public sealed record ClassMetrics(string Label, int TruePositives, int FalsePositives, int FalseNegatives, int Support)
{
    public double Precision => Ratio(TruePositives, TruePositives + FalsePositives);
    public double Recall => Ratio(TruePositives, TruePositives + FalseNegatives);
    public double F1 => double.IsNaN(Precision) || double.IsNaN(Recall) ? double.NaN
        : Precision + Recall == 0 ? 0 : 2 * Precision * Recall / (Precision + Recall);

    internal static double Ratio(int numerator, int denominator) => denominator == 0 ? double.NaN : (double)numerator / denominator;
}
