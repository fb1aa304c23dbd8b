using System.Globalization;

namespace Moderation.Streams.Evaluation;

/// <summary>
/// The score axis of the sweep and histogram plots. Linear on [0, 1] with ticks every 0.1, unless a third or more of
/// the scores crowd within 0.05 of either end — where a model's scores usually sit and a linear axis draws every curve on its edge —
/// then log-odds, ln(s / (1 − s)), with ticks at round probabilities (0.0001, 0.01, 0.5, 0.99 …) labelled as
/// such, never in exponent notation.
/// </summary>
public sealed record ScoreAxis(bool LogOdds, IReadOnlyList<(double Position, string Label)> Ticks)
{
    /// <summary>Scores are clamped to [Floor, 1 − Floor] on a log-odds axis; policy thresholds live at 1e-6 and up.</summary>
    public const double Floor = 1e-6;

    private static readonly double[] Probabilities =
        [1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999, 0.999999];

    public static double Logit(double p) => Math.Log(p / (1 - p));

    /// <summary>Where a score (or threshold) goes on this axis.</summary>
    public double Map(double score) => LogOdds ? Logit(Math.Clamp(score, Floor, 1 - Floor)) : score;

    /// <summary>The axis limits: the outer ticks.</summary>
    public (double Min, double Max) Limits => (Ticks[0].Position, Ticks[^1].Position);

    public static ScoreAxis For(IReadOnlyCollection<float> scores)
    {
        bool crowded = scores.Count > 0 && scores.Count(s => s < 0.05 || s > 0.95) * 3 >= scores.Count;
        if (!crowded)
            return new ScoreAxis(false, [.. Enumerable.Range(0, 11).Select(i => (i / 10.0, (i / 10.0).ToString("0.0", CultureInfo.InvariantCulture)))]);
        double lo = Math.Clamp(scores.Min(), Floor, 0.1), hi = Math.Clamp(scores.Max(), 0.9, 1 - Floor);
        // The round probabilities that bracket the scores, 0.1 to 0.9 always in view.
        int first = Array.FindLastIndex(Probabilities, p => p <= lo * 1.0000001);
        int last = Array.FindIndex(Probabilities, p => p >= hi / 1.0000001);
        var ticks = Probabilities[Math.Max(0, first)..(Math.Max(first, last) + 1)]
            .Select(p => (Logit(p), p.ToString("0.######", CultureInfo.InvariantCulture))).ToList();
        return new ScoreAxis(true, ticks);
    }
}
