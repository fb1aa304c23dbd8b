namespace Moderation.Streams.Media;

/// <summary>
/// Decoded 8-bit pixels, tightly packed row by row. <see cref="Channels"/> is 1 for greyscale sources
/// (the grey value itself, as PDQ's reference reads PGM) and 3 for everything else (RGB, alpha dropped
/// without blending, as both PDQ's reference and nsfwjs do).
/// </summary>
public sealed class DecodedImage
{
    public DecodedImage(int width, int height, int channels, byte[] pixels)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "1 or 3");
        if (pixels.Length != (long)width * height * channels)
            throw new ArgumentException($"expected {width}x{height}x{channels} bytes, got {pixels.Length}", nameof(pixels));
        Width = width;
        Height = height;
        Channels = channels;
        Pixels = pixels;
    }

    public int Width { get; }
    public int Height { get; }
    public int Channels { get; }
    public byte[] Pixels { get; }

    /// <summary>1 for a full decode; 2, 4 or 8 when a JPEG was decoded at reduced scale (<see cref="DecodeLimits.JpegScaleMinSide"/>).</summary>
    public int ScaleDenominator { get; init; } = 1;

    /// <summary>The orientation the file records (EXIF 1–8; 1 when none): applied to <see cref="Pixels"/> unless
    /// decoded <see cref="ImageOrientation.AsStored"/>.</summary>
    public int StoredOrientation { get; init; } = 1;

    /// <summary>The pixels as RGB (greyscale replicated to three channels).</summary>
    public byte[] ToRgb()
    {
        if (Channels == 3) return Pixels;
        var rgb = new byte[Pixels.Length * 3];
        for (int i = 0, j = 0; i < Pixels.Length; i++, j += 3)
            rgb[j] = rgb[j + 1] = rgb[j + 2] = Pixels[i];
        return rgb;
    }
}
