using Moderation.Streams.Contracts;

namespace Moderation.Streams.Media.Video;

/// <summary>The containers screened, each read by exactly one ffmpeg demuxer chosen here from the magic bytes
/// (never by ffmpeg's own probing, which would also recognise playlists, concat scripts and image sequences).</summary>
public enum VideoContainer
{
    /// <summary>ISO base media (<c>ftyp</c>): MP4, MOV, 3GP, read by ffmpeg's <c>mov</c> demuxer.</summary>
    Mp4,

    /// <summary>EBML (<c>1A 45 DF A3</c>): WebM and Matroska, read by ffmpeg's <c>matroska</c> demuxer.</summary>
    WebM,
}

public static class VideoSniffer
{
    /// <summary>The container of <paramref name="bytes"/>, or null when it is not a screened video container
    /// (text such as an HLS playlist, images, HEIF/AVIF stills, anything else).</summary>
    public static VideoContainer? Sniff(ReadOnlySpan<byte> bytes) => MediaSniffer.Sniff(bytes) switch
    {
        MediaFormat.Mp4 => VideoContainer.Mp4,
        MediaFormat.WebM => VideoContainer.WebM,
        _ => null,
    };

    /// <summary>The container, or <c>unsupported-media</c> naming what the bytes look like.</summary>
    /// <exception cref="ModerationException">unsupported-media.</exception>
    public static VideoContainer Require(ReadOnlySpan<byte> bytes)
    {
        if (Sniff(bytes) is { } container) return container;
        var format = MediaSniffer.Sniff(bytes);
        var what = format == MediaFormat.Unknown ? "not a recognised video container" : $"{format} is not a video container";
        throw new ModerationException(ErrorCodes.UnsupportedMedia, $"{what}: videos must be MP4, MOV or WebM");
    }

    /// <summary>ffmpeg's demuxer for the container (passed as <c>-f</c> and as the format whitelist).</summary>
    public static string Demuxer(VideoContainer container) => container switch
    {
        VideoContainer.Mp4 => "mov",
        VideoContainer.WebM => "matroska",
        _ => throw new ArgumentOutOfRangeException(nameof(container)),
    };
}
