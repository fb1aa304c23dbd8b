namespace Moderation.Streams.Evaluation;

/// <summary>Counts of (actual label, predicted label) pairs over a fixed label list.</summary>
public sealed class ConfusionMatrix
{
    private readonly int[,] _counts;

    public ConfusionMatrix(IReadOnlyList<string> labels)
    {
        Labels = labels;
        _counts = new int[labels.Count, labels.Count];
    }

    public IReadOnlyList<string> Labels { get; }
    public int Total { get; private set; }

    public int this[string actual, string predicted] => _counts[Index(actual), Index(predicted)];

    public void Add(string actual, string predicted)
    {
        _counts[Index(actual), Index(predicted)]++;
        Total++;
    }

    public double Accuracy => ClassMetrics.Ratio(Enumerable.Range(0, Labels.Count).Sum(i => _counts[i, i]), Total);

    public ClassMetrics For(string label)
    {
        int c = Index(label), n = Labels.Count;
        int tp = _counts[c, c];
        int predicted = Enumerable.Range(0, n).Sum(a => _counts[a, c]);
        int actual = Enumerable.Range(0, n).Sum(p => _counts[c, p]);
        return new ClassMetrics(label, tp, predicted - tp, actual - tp, actual);
    }

    public IReadOnlyList<ClassMetrics> PerClass => [.. Labels.Select(For)];

    /// <summary>Mean F1 over the classes present in the data (NaN-free).</summary>
    public double MacroF1 => PerClass.Where(m => m.Support > 0).Select(m => double.IsNaN(m.F1) ? 0 : m.F1).DefaultIfEmpty(double.NaN).Average();

    private int Index(string label)
    {
        for (int i = 0; i < Labels.Count; i++)
            if (Labels[i] == label) return i;
        throw new ArgumentException($"label '{label}' is not one of {string.Join(", ", Labels)}", nameof(label));
    }
}
