using Moderation.Streams.Media;
using SkiaSharp;

namespace Moderation.Streams.Hashing.Tests;

/// <summary>A picture as the hasher takes it: tightly packed 8-bit grey (1 channel) or RGB (3 channels).</summary>
internal sealed record RawImage(int Width, int Height, int Channels, byte[] Pixels)
{
    public PdqResult Hash(PdqHasher hasher) => hasher.Hash(Pixels, Width, Height, Channels);

    public PdqDihedral HashDihedral(PdqHasher hasher) => hasher.HashDihedral(Pixels, Width, Height, Channels);

    public static RawImage From(DecodedImage image) => new(image.Width, image.Height, image.Channels, image.Pixels);
}

/// <summary>
/// Pictures the reference never saw, made from a seed: a colour gradient, overlapping ellipses and rectangles and
/// a little noise (photo-like: smooth areas, edges, texture), plus the exact pixel rotations and mirror images,
/// and PNG/JPEG round trips through SkiaSharp.
/// </summary>
internal static class SyntheticImages
{
    public static RawImage Scene(int width, int height, int seed, int channels = 3)
    {
        var random = new Random(seed);
        var rgb = new byte[width * height * 3];
        int[] c0 = RandomColour(random), c1 = RandomColour(random);
        bool horizontal = random.Next(2) == 0;
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int t = horizontal ? x * 256 / width : y * 256 / height;
                for (int c = 0; c < 3; c++) rgb[(y * width + x) * 3 + c] = (byte)((c0[c] * (256 - t) + c1[c] * t) >> 8);
            }
        }

        int shapes = 6 + random.Next(6);
        for (int s = 0; s < shapes; s++)
        {
            int[] colour = RandomColour(random);
            int cx = random.Next(width), cy = random.Next(height);
            int rx = 1 + random.Next(Math.Max(2, width / 3)), ry = 1 + random.Next(Math.Max(2, height / 3));
            bool ellipse = random.Next(2) == 0;
            for (int y = Math.Max(0, cy - ry); y < Math.Min(height, cy + ry); y++)
            {
                for (int x = Math.Max(0, cx - rx); x < Math.Min(width, cx + rx); x++)
                {
                    long dx = x - cx, dy = y - cy;
                    if (ellipse && dx * dx * ry * ry + dy * dy * rx * rx > (long)rx * rx * ry * ry) continue;
                    for (int c = 0; c < 3; c++) rgb[(y * width + x) * 3 + c] = (byte)colour[c];
                }
            }
        }

        for (int i = 0; i < rgb.Length; i++)
            rgb[i] = (byte)Math.Clamp(rgb[i] + random.Next(-12, 13), 0, 255);

        if (channels == 3) return new RawImage(width, height, 3, rgb);
        var grey = new byte[width * height];
        for (int i = 0; i < grey.Length; i++) grey[i] = (byte)((rgb[3 * i] * 77 + rgb[3 * i + 1] * 150 + rgb[3 * i + 2] * 29) >> 8);
        return new RawImage(width, height, 1, grey);
    }

    private static int[] RandomColour(Random random) => [random.Next(256), random.Next(256), random.Next(256)];

    /// <summary>
    /// The picture whose plain hash <see cref="PdqDihedral"/>'s entry for <paramref name="transform"/> predicts:
    /// Rotate90 turns anticlockwise, FlipX turns upside down, FlipPlus1 transposes (checked on upstream's bridge set).
    /// </summary>
    public static RawImage Apply(RawImage image, PdqTransform transform)
    {
        int w = image.Width, h = image.Height, ch = image.Channels;
        bool swap = transform is PdqTransform.Rotate90 or PdqTransform.Rotate270 or PdqTransform.FlipPlus1 or PdqTransform.FlipMinus1;
        int outW = swap ? h : w, outH = swap ? w : h;
        var result = new byte[image.Pixels.Length];
        for (int y = 0; y < outH; y++)
        {
            for (int x = 0; x < outW; x++)
            {
                var (sx, sy) = transform switch
                {
                    PdqTransform.Original => (x, y),
                    PdqTransform.Rotate90 => (w - 1 - y, x),
                    PdqTransform.Rotate180 => (w - 1 - x, h - 1 - y),
                    PdqTransform.Rotate270 => (y, h - 1 - x),
                    PdqTransform.FlipX => (x, h - 1 - y),
                    PdqTransform.FlipY => (w - 1 - x, y),
                    PdqTransform.FlipPlus1 => (y, x),
                    PdqTransform.FlipMinus1 => (w - 1 - y, h - 1 - x),
                    _ => throw new ArgumentOutOfRangeException(nameof(transform)),
                };
                Array.Copy(image.Pixels, (sy * w + sx) * ch, result, (y * outW + x) * ch, ch);
            }
        }
        return new RawImage(outW, outH, ch, result);
    }

    public static byte[] Encode(RawImage image, SKEncodedImageFormat format, int quality = 100)
    {
        var info = new SKImageInfo(image.Width, image.Height, image.Channels == 1 ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var bitmap = new SKBitmap(info);
        var target = bitmap.GetPixelSpan();
        if (image.Channels == 1)
        {
            for (int y = 0; y < image.Height; y++)
                image.Pixels.AsSpan(y * image.Width, image.Width).CopyTo(target.Slice(y * bitmap.RowBytes));
        }
        else
        {
            for (int y = 0; y < image.Height; y++)
            {
                for (int x = 0; x < image.Width; x++)
                {
                    int s = (y * image.Width + x) * 3, t = y * bitmap.RowBytes + x * 4;
                    target[t] = image.Pixels[s];
                    target[t + 1] = image.Pixels[s + 1];
                    target[t + 2] = image.Pixels[s + 2];
                    target[t + 3] = 255;
                }
            }
        }
        using var data = bitmap.Encode(format, quality);
        return data.ToArray();
    }

    public static RawImage Decode(byte[] encoded) => RawImage.From(ImageDecoder.Decode(encoded));
}
