using Moderation.Streams.Media;

namespace Moderation.Streams.Inference;

/// <summary>Scores decoded images. Implementations are thread-safe: one instance serves every caller.</summary>
public interface IImageClassifier : IDisposable
{
    ModelDescriptor Model { get; }

    /// <summary>Where inference runs, e.g. "cpu".</summary>
    string Device { get; }

    /// <summary>Classifies a batch: one <see cref="ClassScores"/> per image, in order.</summary>
    IReadOnlyList<ClassScores> Classify(IReadOnlyList<DecodedImage> images);
}
