using SkiaSharp;

namespace Moderation.Streams.Media;

/// <summary>
/// Deterministic synthetic images (gradients, shapes, noise) for demos, load generation and tests:
/// the same seed always gives the same pixels, different seeds give perceptually unrelated images.
/// </summary>
public static class SampleImages
{
    public static SKBitmap Render(int seed, int width = 320, int height = 240)
    {
        var random = new Random(seed);
        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var canvas = new SKCanvas(bitmap);
        using (var background = new SKPaint())
        {
            background.Shader = SKShader.CreateLinearGradient(
                new SKPoint(0, 0), new SKPoint(width * (float)random.NextDouble(), height),
                [RandomColor(random), RandomColor(random), RandomColor(random)], null, SKShaderTileMode.Mirror);
            canvas.DrawRect(0, 0, width, height, background);
        }
        using var paint = new SKPaint { IsAntialias = true };
        int shapes = 16 + random.Next(16);
        for (int i = 0; i < shapes; i++)
        {
            paint.Color = RandomColor(random).WithAlpha((byte)(160 + random.Next(96)));
            float x = random.Next(width), y = random.Next(height), r = 8 + random.Next(Math.Max(9, width / 4));
            switch (random.Next(3))
            {
                case 0: canvas.DrawCircle(x, y, r, paint); break;
                case 1: canvas.DrawRect(x - r, y - r / 2, r * 1.5f, r, paint); break;
                default:
                    paint.StrokeWidth = 2 + random.Next(8);
                    canvas.DrawLine(x, y, random.Next(width), random.Next(height), paint);
                    break;
            }
        }
        return bitmap;
    }

    /// <summary>A smooth, skin-toned plasma (sums of random sinusoids). Small general-purpose NSFW models are
    /// known to score some of these as "porn": useful to show the review band and why thresholds matter.</summary>
    public static byte[] Plasma(int seed, int width = 224, int height = 224)
    {
        var random = new Random(seed);
        var waves = Enumerable.Range(0, 5).Select(_ => (fx: random.NextDouble() * 0.06, fy: random.NextDouble() * 0.06, phase: random.NextDouble() * Math.Tau)).ToArray();
        var (r0, g0, b0) = (200 + random.Next(40), 130 + random.Next(50), 100 + random.Next(50));
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                double v = 0;
                foreach (var (fx, fy, phase) in waves) v += Math.Sin(x * fx + y * fy + phase);
                double shade = 0.6 + 0.08 * v;
                bitmap.SetPixel(x, y, new SKColor(Clamp(r0 * shade), Clamp(g0 * shade), Clamp(b0 * shade)));
            }
        }
        return Encode(bitmap);
    }

    private static byte Clamp(double v) => (byte)Math.Clamp((int)Math.Round(v), 0, 255);

    public static byte[] Encode(SKBitmap bitmap, SKEncodedImageFormat format = SKEncodedImageFormat.Png, int quality = 90)
    {
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, quality);
        return data.ToArray();
    }

    public static byte[] Png(int seed, int width = 320, int height = 240)
    {
        using var bitmap = Render(seed, width, height);
        return Encode(bitmap);
    }

    public static byte[] Jpeg(int seed, int width = 320, int height = 240, int quality = 90)
    {
        using var bitmap = Render(seed, width, height);
        return Encode(bitmap, SKEncodedImageFormat.Jpeg, quality);
    }

    /// <summary>A near-duplicate: the same picture resized by <paramref name="scale"/> and re-encoded as JPEG.</summary>
    public static byte[] NearDuplicate(int seed, int width = 320, int height = 240, float scale = 0.8f, int quality = 80)
    {
        using var original = Render(seed, width, height);
        using var resized = original.Resize(new SKImageInfo((int)(width * scale), (int)(height * scale), SKColorType.Rgba8888, SKAlphaType.Opaque),
            new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.None));
        return Encode(resized, SKEncodedImageFormat.Jpeg, quality);
    }

    private static SKColor RandomColor(Random random) => new((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256));
}
