namespace Moderation.Streams.Inference;

/// <summary>One image's class probabilities, in the order of <see cref="Labels"/>.</summary>
public sealed class ClassScores
{
    public ClassScores(IReadOnlyList<string> labels, float[] values)
    {
        if (labels.Count != values.Length)
            throw new ArgumentException($"{values.Length} scores for {labels.Count} labels", nameof(values));
        if (values.Length == 0) throw new ArgumentException("no scores", nameof(values));
        Labels = labels;
        Values = values;
    }

    public IReadOnlyList<string> Labels { get; }
    public IReadOnlyList<float> Values { get; }

    /// <exception cref="KeyNotFoundException">The label is not one of <see cref="Labels"/>.</exception>
    public float this[string label]
    {
        get
        {
            for (int i = 0; i < Labels.Count; i++)
                if (string.Equals(Labels[i], label, StringComparison.Ordinal)) return Values[i];
            throw new KeyNotFoundException($"no class '{label}'; classes: {string.Join(", ", Labels)}");
        }
    }

    /// <summary>The label with the highest score (the first one on a tie).</summary>
    public string TopLabel
    {
        get
        {
            int best = 0;
            for (int i = 1; i < Values.Count; i++)
                if (Values[i] > Values[best]) best = i;
            return Labels[best];
        }
    }

    public IReadOnlyDictionary<string, float> ToDictionary()
    {
        var result = new Dictionary<string, float>(Labels.Count, StringComparer.Ordinal);
        for (int i = 0; i < Labels.Count; i++) result[Labels[i]] = Values[i];
        return result;
    }

    public override string ToString() =>
        string.Join(" ", Labels.Select((label, i) => $"{label}={Values[i]:0.######}"));
}
