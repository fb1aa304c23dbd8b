namespace Moderation.Streams.Media.Video;

/// <summary>One sampled frame: decoded RGB pixels (scaled to at most <see cref="VideoLimits.FrameMaxSide"/>)
/// and when it is shown.</summary>
/// <param name="Index">Position among the sampled frames, from 0.</param>
/// <param name="TimestampMs">Presentation time in milliseconds from the start (-1 when the stream had none).</param>
public sealed record VideoFrame(int Index, long TimestampMs, DecodedImage Image)
{
    /// <summary>The stream the frame comes from (<see cref="VideoTrack.StreamIndex"/>).</summary>
    public int Track { get; init; }
}
