using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Inference;

namespace Moderation.Streams.Worker;

/// <summary>
/// The models a policy asks for, loaded once at start beside the worker's own (<c>Screening:Model</c>): the
/// ensemble members (<see cref="Policy.Ensemble"/>; the worker's model is reused when it is one) combined into
/// the live classifier, and the shadow candidate (<see cref="Policy.Shadow"/>) wrapped around it so it runs on
/// the live batches. Models are not hot-swapped: a reloaded policy must need the same ones
/// (<see cref="Accept"/>). Disposing releases the models loaded here, not the worker's own.
/// </summary>
public sealed class ModelComposition : IDisposable
{
    private readonly List<IImageClassifier> _owned = [];

    private ModelComposition(OnnxImageClassifier primary) => Live = primary;

    /// <summary>Scores the live decisions: the worker's model or the ensemble.</summary>
    public IImageClassifier Live { get; private set; }

    /// <summary>What the batcher runs: <see cref="Live"/>, wrapped with the shadow candidate when there is one.</summary>
    public IImageClassifier Batched => (IImageClassifier?)Shadow ?? Live;

    public ShadowClassifier? Shadow { get; private set; }

    /// <summary>The <see cref="Policy.ModelSet"/> this composition serves.</summary>
    public required string ModelSet { get; init; }

    public static ModelComposition Create(OnnxImageClassifier primary, Policy policy, string? modelsDirectory, ILogger logger)
    {
        var composition = new ModelComposition(primary) { ModelSet = policy.ModelSet(primary.Model.Name) };
        try
        {
            if (policy.Ensemble is { } ensemble)
            {
                var members = ensemble.Models.Select(name => name == primary.Model.Name ? primary : composition.Load(name, primary, modelsDirectory)).ToList();
                composition.Live = new EnsembleClassifier(members, ensemble.Combine, ensemble.Weights);
                logger.LogInformation("Ensemble {Model} decides", composition.Live.Model.VersionedName);
            }
            if (policy.Shadow is { } shadow)
            {
                var candidate = composition.Load(shadow.Model, primary, modelsDirectory);
                composition.Shadow = new ShadowClassifier(composition.Live, candidate, logger);
                logger.LogInformation("Shadow model {Model} runs beside {Live} (never acted on)", candidate.Model.VersionedName, composition.Live.Model.VersionedName);
            }
            return composition;
        }
        catch
        {
            composition.Dispose();
            throw;
        }
    }

    /// <summary>Why this process cannot apply <paramref name="policy"/> (it needs other models), or null. For <see cref="PolicyWatcher"/>.</summary>
    public string? Accept(Policy policy, string primaryModel) =>
        policy.ModelSet(primaryModel) is var wanted && wanted == ModelSet ? null
            : $"the policy needs models {wanted} but this worker runs {ModelSet}: ensemble and shadow models change only with a restart";

    /// <summary>A batcher over <see cref="Batched"/> with the worker's batching settings.</summary>
    public DynamicBatcher CreateBatcher(OnnxImageClassifier primary, InferenceOptions inference, TimeProvider? time = null) =>
        new(Batched, inference.Batcher(primary.Options.ConcurrentRuns), time);

    private OnnxImageClassifier Load(string name, OnnxImageClassifier primary, string? modelsDirectory)
    {
        var classifier = OnnxImageClassifier.Load(name, modelsDirectory, primary.Options with { WarmUp = true });
        _owned.Add(classifier);
        return classifier;
    }

    public void Dispose()
    {
        foreach (var c in _owned) c.Dispose();
        _owned.Clear();
    }
}
