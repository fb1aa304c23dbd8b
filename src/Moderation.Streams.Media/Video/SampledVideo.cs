namespace Moderation.Streams.Media.Video;

/// <summary>A video's container facts and its sampled frames, track after track, each in presentation order.</summary>
/// <param name="NotCovered">What was not screened (a stretch past the frame budget's density, a track or a tail that
/// could not be decoded), or null when the samples cover every track from start to end.</param>
public sealed record SampledVideo(VideoInfo Info, IReadOnlyList<VideoFrame> Frames, string? NotCovered = null);
