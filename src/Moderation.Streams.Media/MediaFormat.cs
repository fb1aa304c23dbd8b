namespace Moderation.Streams.Media;

/// <summary>What media bytes are, by their magic bytes (never by file name or Content-Type).</summary>
public enum MediaFormat
{
    Unknown,

    // Decoded and screened.
    Jpeg,
    Png,
    Gif,
    Webp,
    Bmp,

    // Recognised so that the refusal can say what it was; never decoded.
    Tiff,
    Heif,
    Avif,
    JpegXl,
    Jpeg2000,
    Ico,
    Psd,
    Svg,
    Pdf,
    Mp4,
    WebM,
    Zip,
    Gzip,
    Html,
}
