namespace Moderation.Streams.Media.Video;

/// <summary>What ffprobe read from a video's container, before any frame was decoded.</summary>
/// <param name="Width">Coded width of the video stream.</param>
/// <param name="Height">Coded height of the video stream.</param>
/// <param name="Rotation">Display rotation in degrees (0, 90, 180, 270); ffmpeg applies it when decoding.</param>
/// <param name="Duration">Declared duration, when the container has one.</param>
/// <param name="DeclaredFrames">Declared frame count of the video stream, when the container has one.</param>
public sealed record VideoInfo(VideoContainer Container, string Codec, int Width, int Height, int Rotation, TimeSpan? Duration,
    long? DeclaredFrames, int Streams)
{
    /// <summary>Width as displayed (after rotation).</summary>
    public int DisplayWidth => Rotation is 90 or 270 ? Height : Width;

    /// <summary>Height as displayed (after rotation).</summary>
    public int DisplayHeight => Rotation is 90 or 270 ? Width : Height;
}

/// <summary>One sampled frame: decoded RGB pixels (scaled to at most <see cref="VideoLimits.FrameMaxSide"/>)
/// and when it is shown.</summary>
/// <param name="Index">Position among the sampled frames, from 0.</param>
/// <param name="TimestampMs">Presentation time in milliseconds from the start (-1 when the stream had none).</param>
public sealed record VideoFrame(int Index, long TimestampMs, DecodedImage Image);

/// <summary>A video's container facts and its sampled frames, in presentation order.</summary>
public sealed record SampledVideo(VideoInfo Info, IReadOnlyList<VideoFrame> Frames);
