namespace Moderation.Streams.Evaluation;

/// <summary>
/// Every distinct threshold of one score against binary ground truth, highest first: the PR curve and the
/// threshold sweep. <see cref="ThresholdFor"/> finds the lowest threshold (the most recall) whose precision still
/// reaches a target.
/// </summary>
public sealed class ThresholdSweep
{
    private ThresholdSweep(IReadOnlyList<SweepPoint> points, int positives, int negatives)
    {
        Points = points;
        Positives = positives;
        Negatives = negatives;
    }

    /// <summary>One point per distinct score, thresholds descending (recall non-decreasing along the list).</summary>
    public IReadOnlyList<SweepPoint> Points { get; }
    public int Positives { get; }
    public int Negatives { get; }

    public static ThresholdSweep Of(IReadOnlyList<float> scores, IReadOnlyList<bool> positive)
    {
        if (scores.Count != positive.Count) throw new ArgumentException($"{scores.Count} scores for {positive.Count} labels", nameof(positive));
        var order = Enumerable.Range(0, scores.Count).OrderByDescending(i => scores[i]).ToArray();
        int positives = positive.Count(p => p), tp = 0, fp = 0;
        var points = new List<SweepPoint>();
        for (int k = 0; k < order.Length; k++)
        {
            if (positive[order[k]]) tp++;
            else fp++;
            // Ties fall on the same side of a threshold: emit a point only after the last of equal scores.
            if (k + 1 < order.Length && scores[order[k + 1]] == scores[order[k]]) continue;
            points.Add(new SweepPoint(scores[order[k]], tp, fp, positives - tp));
        }
        return new ThresholdSweep(points, positives, scores.Count - positives);
    }

    /// <summary>The point with the lowest threshold above zero whose precision is at least <paramref name="targetPrecision"/>
    /// (and that finds at least one positive); null when no threshold gets there on this data. Zero is never a threshold:
    /// "score ≥ 0" flags everything, and policy thresholds live in (0, 1].</summary>
    public SweepPoint? ThresholdFor(double targetPrecision)
    {
        SweepPoint? best = null;
        foreach (var point in Points)
            if (point.Threshold > 0 && point.TruePositives > 0 && point.Precision >= targetPrecision) best = point;
        return best;
    }

    /// <summary>Average precision: the area under the step precision-recall curve, Σ (Rₙ − Rₙ₋₁)·Pₙ over the
    /// thresholds from the highest down (scikit-learn's definition, no interpolation); NaN without positives.</summary>
    public double AveragePrecision
    {
        get
        {
            if (Positives == 0) return double.NaN;
            double ap = 0, previousRecall = 0;
            foreach (var point in Points)
            {
                ap += (point.Recall - previousRecall) * point.Precision;
                previousRecall = point.Recall;
            }
            return ap;
        }
    }

    /// <summary>What a given threshold gives.</summary>
    public SweepPoint At(float threshold)
    {
        SweepPoint? last = null;
        foreach (var point in Points)
        {
            if (point.Threshold < threshold) break;
            last = point;
        }
        return last ?? new SweepPoint(threshold, 0, 0, Positives);
    }
}
