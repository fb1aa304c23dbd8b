namespace Moderation.Streams.Media.Video;

/// <summary>What ffprobe read from a video's container, before any frame was decoded. The positional fields describe
/// the first video track; <see cref="Tracks"/> lists every video track a player could show (attached pictures, cover
/// art, are not among them).</summary>
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

    /// <summary>Every video track, in stream order (the first is the one the positional fields describe).</summary>
    public IReadOnlyList<VideoTrack> Tracks { get; init; } = [];
}

/// <summary>One video track of a container.</summary>
/// <param name="StreamIndex">The stream's index in the container (ffmpeg's <c>0:N</c>).</param>
/// <param name="Duration">The track's own duration, else the container's.</param>
public sealed record VideoTrack(int StreamIndex, string Codec, int Width, int Height, int Rotation, TimeSpan? Duration, long? DeclaredFrames)
{
    public int DisplayWidth => Rotation is 90 or 270 ? Height : Width;
    public int DisplayHeight => Rotation is 90 or 270 ? Width : Height;
}

/// <summary>One sampled frame: decoded RGB pixels (scaled to at most <see cref="VideoLimits.FrameMaxSide"/>)
/// and when it is shown.</summary>
/// <param name="Index">Position among the sampled frames, from 0.</param>
/// <param name="TimestampMs">Presentation time in milliseconds from the start (-1 when the stream had none).</param>
public sealed record VideoFrame(int Index, long TimestampMs, DecodedImage Image)
{
    /// <summary>The stream the frame comes from (<see cref="VideoTrack.StreamIndex"/>).</summary>
    public int Track { get; init; }
}

/// <summary>A video's container facts and its sampled frames, track after track, each in presentation order.</summary>
/// <param name="NotCovered">What was not screened (a stretch past the frame budget's density, a track or a tail that
/// could not be decoded), or null when the samples cover every track from start to end.</param>
public sealed record SampledVideo(VideoInfo Info, IReadOnlyList<VideoFrame> Frames, string? NotCovered = null);
