using Moderation.Streams.Media;

namespace Moderation.Streams.Inference;

/// <summary>
/// Several models scoring the same batch, combined class by class: <c>max</c> (the most alarmed member wins:
/// highest recall), <c>mean</c>, or <c>weighted</c> (weights normalised to sum 1). Every member must have the same
/// labels. The members run one after the other on the caller's thread; each keeps its own preprocessing.
/// </summary>
public sealed class EnsembleClassifier : IImageClassifier
{
    private readonly IReadOnlyList<IImageClassifier> _members;
    private readonly float[] _weights;
    private readonly bool _max;

    /// <param name="combine"><c>max</c>, <c>mean</c> or <c>weighted</c>.</param>
    /// <param name="weights">One per member for <c>weighted</c>; ignored otherwise.</param>
    public EnsembleClassifier(IReadOnlyList<IImageClassifier> members, string combine, IReadOnlyList<float>? weights = null)
    {
        ArgumentNullException.ThrowIfNull(members);
        if (members.Count < 2) throw new ArgumentException("an ensemble needs at least two models", nameof(members));
        var labels = members[0].Model.Labels;
        foreach (var m in members)
            if (!m.Model.Labels.SequenceEqual(labels))
                throw new ArgumentException($"{m.Model.VersionedName} has labels {string.Join(",", m.Model.Labels)}, not {string.Join(",", labels)}", nameof(members));
        _members = members;
        (_max, _weights) = combine switch
        {
            "max" => (true, []),
            "mean" => (false, Enumerable.Repeat(1f / members.Count, members.Count).ToArray()),
            "weighted" when weights is { } w && w.Count == members.Count && w.All(x => x >= 0) && w.Sum() > 0 => (false, w.Select(x => x / w.Sum()).ToArray()),
            "weighted" => throw new ArgumentException($"weighted needs {members.Count} non-negative weights, not all zero", nameof(weights)),
            _ => throw new ArgumentException($"unknown combine '{combine}' (max, mean, weighted)", nameof(combine)),
        };
        Combine = combine;
        var parts = members.Select((m, i) => combine == "weighted" ? $"{m.Model.VersionedName}*{_weights[i]:0.###}" : m.Model.VersionedName);
        Model = new ModelDescriptor($"ensemble-{combine}({string.Join(",", parts)})", 1, "", members[0].Model.InputSize, labels)
        {
            Preprocessing = "each member's own",
            Source = "combination of " + string.Join(", ", members.Select(m => m.Model.Name)),
        };
    }

    public ModelDescriptor Model { get; }
    public string Combine { get; }
    public IReadOnlyList<IImageClassifier> Members => _members;
    public string Device => _members[0].Device;

    public IReadOnlyList<ClassScores> Classify(IReadOnlyList<DecodedImage> images)
    {
        var perMember = new IReadOnlyList<ClassScores>[_members.Count];
        for (int m = 0; m < _members.Count; m++) perMember[m] = _members[m].Classify(images);
        var result = new ClassScores[images.Count];
        int labels = Model.Labels.Count;
        for (int i = 0; i < images.Count; i++)
        {
            var values = new float[labels];
            for (int m = 0; m < _members.Count; m++)
            {
                var scores = perMember[m][i].Values;
                for (int c = 0; c < labels; c++)
                    values[c] = _max ? Math.Max(values[c], scores[c]) : values[c] + _weights[m] * scores[c];
            }
            result[i] = new ClassScores(Model.Labels, values);
        }
        return result;
    }

    /// <summary>The members belong to whoever loaded them (one model may serve as member and as the live model).</summary>
    public void Dispose()
    {
    }
}
