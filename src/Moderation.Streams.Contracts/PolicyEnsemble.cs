namespace Moderation.Streams.Contracts;

/// <summary>Models whose scores are combined (<see cref="EnsembleCombine"/>) before the thresholds apply.</summary>
public sealed record PolicyEnsemble
{
    public IReadOnlyList<string> Models { get; init; } = [];
    public string Combine { get; init; } = EnsembleCombine.Mean;

    /// <summary>One weight per model, for <c>weighted</c> (normalised to sum 1).</summary>
    public IReadOnlyList<float>? Weights { get; init; }

    internal void Validate(List<(string, string)> errors, IReadOnlyCollection<string>? knownModels)
    {
        if (Models.Count < 2) errors.Add(("ensemble.models", "an ensemble needs at least two models"));
        if (Models.Distinct().Count() != Models.Count) errors.Add(("ensemble.models", "a model is listed twice"));
        if (knownModels is not null)
            foreach (var model in Models.Where(m => !knownModels.Contains(m)))
                errors.Add(("ensemble.models", $"unknown model '{model}' (known: {string.Join(", ", knownModels)})"));
        if (!EnsembleCombine.All.Contains(Combine)) errors.Add(("ensemble.combine", $"'{Combine}' must be one of {string.Join(", ", EnsembleCombine.All)}"));
        if (Combine == EnsembleCombine.Weighted)
        {
            if (Weights is null || Weights.Count != Models.Count) errors.Add(("ensemble.weights", $"weighted needs one weight per model ({Models.Count})"));
            else if (Weights.Any(w => !(w >= 0 && float.IsFinite(w))) || Weights.Sum() <= 0) errors.Add(("ensemble.weights", "weights must be finite, non-negative and not all zero"));
        }
        else if (Weights is not null) errors.Add(("ensemble.weights", $"weights apply only to combine 'weighted', not '{Combine}'"));
    }
}
