using Moderation.Streams.Contracts;

namespace Moderation.Streams.Media.Video;

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
