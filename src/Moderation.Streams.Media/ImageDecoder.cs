using Moderation.Streams.Contracts;
using SkiaSharp;

namespace Moderation.Streams.Media;

/// <summary>
/// Decodes still images with SkiaSharp. The header is read first and checked against
/// <see cref="DecodeLimits"/>; only whitelisted formats are decoded. Pixels are the decoder's raw output
/// (no colour management, no EXIF rotation), which matches what PDQ's reference hasher reads.
/// </summary>
public static class ImageDecoder
{
    private static readonly HashSet<SKEncodedImageFormat> Supported =
    [
        SKEncodedImageFormat.Jpeg, SKEncodedImageFormat.Png, SKEncodedImageFormat.Webp,
        SKEncodedImageFormat.Gif, SKEncodedImageFormat.Bmp,
    ];

    public static DecodedImage DecodeFile(string path, DecodeLimits? limits = null)
    {
        limits ??= DecodeLimits.Default;
        var info = new FileInfo(path);
        if (!info.Exists) throw new ModerationException(ErrorCodes.MediaUnavailable, $"no such file: {path}");
        if (info.Length > limits.MaxBytes)
            throw new ModerationException(ErrorCodes.MediaTooLarge, $"{info.Length} bytes exceeds the limit of {limits.MaxBytes}");
        return Decode(File.ReadAllBytes(path), limits);
    }

    public static DecodedImage Decode(byte[] encoded, DecodeLimits? limits = null)
    {
        limits ??= DecodeLimits.Default;
        if (encoded.Length == 0) throw new ModerationException(ErrorCodes.UndecodableMedia, "empty media");
        if (encoded.Length > limits.MaxBytes)
            throw new ModerationException(ErrorCodes.MediaTooLarge, $"{encoded.Length} bytes exceeds the limit of {limits.MaxBytes}");

        using var data = SKData.CreateCopy(encoded);
        using var stream = new SKMemoryStream(data);
        using var codec = SKCodec.Create(stream, out var createResult);
        if (codec is null)
            throw new ModerationException(ErrorCodes.UnsupportedMedia, $"not a recognised image ({createResult})");
        if (!Supported.Contains(codec.EncodedFormat))
            throw new ModerationException(ErrorCodes.UnsupportedMedia, $"image format {codec.EncodedFormat} is not supported");

        int width = codec.Info.Width, height = codec.Info.Height;
        if (width <= 0 || height <= 0)
            throw new ModerationException(ErrorCodes.UndecodableMedia, $"invalid dimensions {width}x{height}");
        if (width > limits.MaxSide || height > limits.MaxSide || (long)width * height > limits.MaxPixels)
            throw new ModerationException(ErrorCodes.MediaTooLarge,
                $"{width}x{height} exceeds the pixel limits ({limits.MaxPixels} pixels, {limits.MaxSide} per side)");

        bool grey = codec.Info.ColorType == SKColorType.Gray8;
        var target = new SKImageInfo(width, height, grey ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Unpremul, null);
        var raw = new byte[(long)target.RowBytes * height];
        SKCodecResult result;
        unsafe
        {
            fixed (byte* p = raw) result = codec.GetPixels(target, (IntPtr)p);
        }
        // Truncated or corrupt data is refused rather than screened half-decoded (missing rows come back zeroed).
        if (result != SKCodecResult.Success)
            throw new ModerationException(ErrorCodes.UndecodableMedia, $"image data is truncated or corrupt ({result})");

        if (grey) return new DecodedImage(width, height, 1, raw);
        var rgb = new byte[(long)width * height * 3];
        for (int s = 0, d = 0; d < rgb.Length; s += 4, d += 3)
        {
            rgb[d] = raw[s];
            rgb[d + 1] = raw[s + 1];
            rgb[d + 2] = raw[s + 2];
        }
        return new DecodedImage(width, height, 3, rgb);
    }
}
