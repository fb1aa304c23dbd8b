namespace Moderation.Streams.Media.Video;

/// <summary>One video track of a container.</summary>
/// <param name="StreamIndex">The stream's index in the container (ffmpeg's <c>0:N</c>).</param>
/// <param name="Duration">The track's own duration, else the container's.</param>
public sealed record VideoTrack(int StreamIndex, string Codec, int Width, int Height, int Rotation, TimeSpan? Duration, long? DeclaredFrames)
{
    public int DisplayWidth => Rotation is 90 or 270 ? Height : Width;
    public int DisplayHeight => Rotation is 90 or 270 ? Width : Height;
}
