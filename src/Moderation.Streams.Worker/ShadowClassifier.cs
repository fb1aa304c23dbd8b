using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Inference;
using Moderation.Streams.Media;

namespace Moderation.Streams.Worker;

/// <summary>
/// Runs a candidate model on exactly the batches the live model runs on: the batcher calls
/// <see cref="Classify"/>, which scores the batch with the live model, then with the candidate, and returns the
/// live scores unchanged. The candidate's scores wait beside each live result (keyed by that result object, so
/// a result nobody asks about — a video frame — is simply collected) until the pipeline takes them with
/// <see cref="TakeCandidate"/>. A candidate that throws loses its scores for that batch and nothing else: the
/// live scores are returned as if there were no shadow.
/// </summary>
public sealed class ShadowClassifier(IImageClassifier live, IImageClassifier candidate, ILogger logger) : IImageClassifier
{
    private readonly ConditionalWeakTable<ClassScores, ClassScores> _candidates = [];
    private long _failures, _batches;

    public ModelDescriptor Model => live.Model;
    public string Device => live.Device;
    public IImageClassifier Live => live;
    public IImageClassifier Candidate => candidate;

    /// <summary>Candidate batches that failed (their uploads get no shadow decision).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Batches the candidate scored.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    public IReadOnlyList<ClassScores> Classify(IReadOnlyList<DecodedImage> images)
    {
        var scores = live.Classify(images);
        try
        {
            var shadow = candidate.Classify(images);
            if (shadow.Count != scores.Count) throw new InvalidOperationException($"candidate returned {shadow.Count} results for {scores.Count} images");
            for (int i = 0; i < scores.Count; i++) _candidates.AddOrUpdate(scores[i], shadow[i]);
            Interlocked.Increment(ref _batches);
        }
        catch (Exception e)
        {
            if (Interlocked.Increment(ref _failures) is var n && (n & (n - 1)) == 0) // 1st, 2nd, 4th… failure: no log flood
                logger.LogWarning(e, "Shadow model {Model} failed on a batch of {Count} ({Failures} failures so far); live decisions unaffected",
                    candidate.Model.VersionedName, images.Count, n);
        }
        return scores;
    }

    /// <summary>The candidate's scores for the image that got <paramref name="liveScores"/>, once; null if it has none.</summary>
    public ClassScores? TakeCandidate(ClassScores liveScores)
    {
        if (!_candidates.TryGetValue(liveScores, out var shadow)) return null;
        _candidates.Remove(liveScores);
        return shadow;
    }

    /// <summary>Both models belong to whoever loaded them.</summary>
    public void Dispose()
    {
    }
}
