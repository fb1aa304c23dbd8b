namespace Moderation.Streams.Contracts;

/// <summary>
/// A model's scores for an upload: one row per screened picture (a still image has one; a video or an animation one per
/// sampled frame), one score per class in <see cref="Labels"/> order.
/// </summary>
public sealed record ModelSignal
{
    /// <summary>The model's name, as reasons name it.</summary>
    public required string Model { get; init; }

    public required IReadOnlyList<string> Labels { get; init; }

    /// <summary>One row per picture, <see cref="Labels"/>.Count scores each.</summary>
    public required IReadOnlyList<IReadOnlyList<float>> Frames { get; init; }

    /// <summary>Videos and animations: each frame's presentation time (ms); null for a still image (its reasons name no frames).</summary>
    public IReadOnlyList<long>? TimestampsMs { get; init; }

    /// <summary>How many frames must reach a threshold for its action (capped at the frame count).</summary>
    public int MinFramesOverThreshold { get; init; } = 1;

    /// <summary>A still image's scores.</summary>
    public static ModelSignal Still(string model, IReadOnlyList<string> labels, IReadOnlyList<float> scores) =>
        new() { Model = model, Labels = labels, Frames = [scores] };

    /// <summary>A video's or an animation's scores, one row per frame at <paramref name="timestampsMs"/>.</summary>
    public static ModelSignal OfFrames(string model, IReadOnlyList<string> labels, IReadOnlyList<long> timestampsMs,
        IReadOnlyList<IReadOnlyList<float>> frames, int minFramesOverThreshold = 1) =>
        new() { Model = model, Labels = labels, Frames = frames, TimestampsMs = timestampsMs, MinFramesOverThreshold = minFramesOverThreshold };

    /// <summary>The rule's checks on the shape: at least one frame, one score per label, one timestamp per frame.</summary>
    internal void Validate()
    {
        if (Frames.Count == 0) throw new ArgumentException("a model signal needs at least one frame");
        if (Frames.Any(f => f.Count != Labels.Count)) throw new ArgumentException("every frame needs one score per label");
        if (TimestampsMs is { } t && t.Count != Frames.Count) throw new ArgumentException("one timestamp per frame");
        ArgumentOutOfRangeException.ThrowIfLessThan(MinFramesOverThreshold, 1);
    }
}
