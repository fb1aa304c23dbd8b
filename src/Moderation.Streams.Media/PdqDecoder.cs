using Moderation.Streams.Contracts;
using SkiaSharp;

namespace Moderation.Streams.Media;

/// <summary>The JPEG scale both decoders use: the smallest of 1/8, 1/4, 1/2 at which both sides stay long enough.</summary>
internal static class JpegScale
{
    /// <summary>The denominator (1 = full decode) and, through the refs, the scaled size. Only JPEGs over
    /// <paramref name="minSide"/> on both sides scale; <paramref name="minSide"/> 0 never scales.</summary>
    public static int Choose(SKCodec codec, int minSide, ref int width, ref int height)
    {
        if (minSide <= 0 || codec.EncodedFormat != SKEncodedImageFormat.Jpeg || width <= minSide || height <= minSide) return 1;
        foreach (int d in (ReadOnlySpan<int>)[8, 4, 2])
        {
            var scaled = codec.GetScaledDimensions(1f / d);
            if (scaled.Width >= minSide && scaled.Height >= minSide)
            {
                (width, height) = (scaled.Width, scaled.Height);
                return d;
            }
        }
        return 1;
    }
}

/// <summary>
/// Decoding for PDQ only, as fast as the hash allows. PDQ resizes any picture over 512 px to 512x512 by
/// nearest neighbour, so a JPEG may be decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling: most of the
/// decoding work is skipped) as long as both sides stay at least <see cref="MinScaledSide"/>: the hash then
/// samples the same 512x512 grid from a slightly smoothed picture, which moves few bits (measured by
/// <c>bench pdq</c>). Other formats, and JPEGs too small to scale, are decoded in full. Pixels go straight into
/// a buffer reused across calls (RGBA is hashed as is, without an RGB copy). The same size limits as
/// <see cref="ImageDecoder"/> and its JPEG marker walk (<see cref="JpegStructure"/>: at most
/// <see cref="DecodeLimits.MaxJpegScans"/> scans, an end of image after them), but not its walk of the entropy-coded
/// data (<see cref="JpegEntropy"/>, about half the cost of a half-scale decode) nor its EXIF orientation: a file cut
/// short and closed with an end-of-image marker hashes with the grey blocks libjpeg invents, as it does in the
/// reference (ImageMagick). This is <c>moderation hash</c>'s path for JPEGs and <c>bench pdq</c>'s fast path, not the
/// worker's (which refuses such uploads). Not thread-safe: one instance per thread.
/// </summary>
public sealed class PdqDecoder
{
    private static readonly HashSet<SKEncodedImageFormat> Supported =
    [
        SKEncodedImageFormat.Jpeg, SKEncodedImageFormat.Png, SKEncodedImageFormat.Webp,
        SKEncodedImageFormat.Gif, SKEncodedImageFormat.Bmp,
    ];

    private byte[] _buffer = new byte[1 << 20];

    public PdqDecoder(int minScaledSide = 512)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(minScaledSide, 0);
        MinScaledSide = minScaledSide;
    }

    /// <summary>A JPEG is decoded at a reduced scale only if both scaled sides are at least this (512: PDQ's resize side).
    /// 1 always takes the smallest scale (1/8): faster, but then PDQ hashes a different grid, and more bits move.
    /// 0 never scales (every picture decoded in full: the reference's pixels).</summary>
    public int MinScaledSide { get; }

    /// <exception cref="ModerationException">Unsupported, too large, truncated or corrupt media.</exception>
    public PdqPixels Decode(ReadOnlySpan<byte> encoded, DecodeLimits? limits = null)
    {
        limits ??= DecodeLimits.Default;
        if (encoded.IsEmpty) throw new ModerationException(ErrorCodes.UndecodableMedia, "empty media");
        if (encoded.Length > limits.MaxBytes)
            throw new ModerationException(ErrorCodes.MediaTooLarge, $"{encoded.Length} bytes exceeds the limit of {limits.MaxBytes}");
        if (MediaSniffer.Sniff(encoded) == MediaFormat.Jpeg)
        {
            // Markers only (a vectorised search for 0xFF through the data): size from the frame header before any
            // pixel memory, scan bombs, and a file cut short (no end of image after its scans).
            var jpeg = JpegStructure.Read(encoded);
            if (jpeg.Width > 0) ImageDecoder.CheckSize(jpeg.Width, jpeg.Height, limits);
            if (jpeg.Scans > limits.MaxJpegScans)
                throw new ModerationException(ErrorCodes.MediaTooLarge, $"JPEG with more than {limits.MaxJpegScans} scans");
            if (!jpeg.Complete) throw new ModerationException(ErrorCodes.UndecodableMedia, "JPEG data is truncated or corrupt (no end of image after its scans)");
        }

        unsafe
        {
            fixed (byte* source = encoded)
            {
                // The encoded bytes are read in place (no native copy); the codec is done before `fixed` ends.
                using var data = SKData.Create((IntPtr)source, encoded.Length);
                using var codec = SKCodec.Create(data)
                    ?? throw new ModerationException(ErrorCodes.UnsupportedMedia, "not a recognised image");
                if (!Supported.Contains(codec.EncodedFormat))
                    throw new ModerationException(ErrorCodes.UnsupportedMedia, $"image format {codec.EncodedFormat} is not supported");
                int width = codec.Info.Width, height = codec.Info.Height;
                if (width <= 0 || height <= 0)
                    throw new ModerationException(ErrorCodes.UndecodableMedia, $"invalid dimensions {width}x{height}");
                ImageDecoder.CheckSize(width, height, limits);

                // Pictures up to PDQ's 512-pixel grid are never scaled, whatever MinScaledSide says.
                int denominator = width > 512 && height > 512 ? JpegScale.Choose(codec, MinScaledSide, ref width, ref height) : 1;

                bool grey = codec.Info.ColorType == SKColorType.Gray8;
                int channels = grey ? 1 : 4;
                var info = new SKImageInfo(width, height, grey ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Unpremul, null);
                int length = checked(width * height * channels);
                if (_buffer.Length < length) _buffer = new byte[Math.Max(length, _buffer.Length * 2L > Array.MaxLength ? length : _buffer.Length * 2)];
                SKCodecResult result;
                fixed (byte* target = _buffer) result = codec.GetPixels(info, (IntPtr)target, width * channels, new SKCodecOptions());
                if (result != SKCodecResult.Success)
                    throw new ModerationException(ErrorCodes.UndecodableMedia, $"image data is truncated or corrupt ({result})");
                return new PdqPixels(_buffer.AsSpan(0, length), width, height, channels, denominator);
            }
        }
    }
}
