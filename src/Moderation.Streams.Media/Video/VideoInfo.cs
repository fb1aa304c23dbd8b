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
