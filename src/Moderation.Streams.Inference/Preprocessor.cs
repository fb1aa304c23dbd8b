using Moderation.Streams.Media;

namespace Moderation.Streams.Inference;

/// <summary>
/// Turns a decoded image into the model input exactly as nsfwjs does (its <c>src/core.ts</c>, TF.js CPU
/// kernels): RGB (grey replicated, alpha already dropped) → <c>v / 255f</c> → only when the image is not
/// already S×S: bilinear resize to S×S with align-corners (no half-pixel centres, aspect ratio not kept,
/// no crop, no antialiasing), interpolated in double and rounded once to float32 → NHWC.
/// </summary>
public static class Preprocessor
{
    private static readonly float[] Normalised = BuildNormalisationTable();

    /// <summary>The S×S×3 NHWC input for one image (one row of a batch).</summary>
    public static float[] ToNhwc(DecodedImage image, int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        var result = new float[size * size * 3];
        Write(image, size, result);
        return result;
    }

    /// <summary>Writes the S×S×3 NHWC input for one image into <paramref name="destination"/>.</summary>
    public static void Write(DecodedImage image, int size, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        int length = size * size * 3;
        if (destination.Length != length)
            throw new ArgumentException($"destination holds {destination.Length} floats, {size}x{size}x3 needs {length}", nameof(destination));

        if (image.Width == size && image.Height == size) CopyNormalised(image, destination);
        else ResizeAlignCorners(image, size, destination);
    }

    private static void CopyNormalised(DecodedImage image, Span<float> destination)
    {
        byte[] pixels = image.Pixels;
        if (image.Channels == 3)
        {
            for (int i = 0; i < destination.Length; i++) destination[i] = Normalised[pixels[i]];
            return;
        }
        for (int i = 0, d = 0; i < pixels.Length; i++, d += 3)
            destination[d] = destination[d + 1] = destination[d + 2] = Normalised[pixels[i]];
    }

    // TF.js resizeBilinear (CPU kernel) with alignCorners=true, halfPixelCenters=false: the source
    // coordinate is ratio * index with ratio = (in - 1) / (out - 1); arithmetic in double on the float32
    // inputs, one rounding to float32 at the end.
    private static void ResizeAlignCorners(DecodedImage image, int size, Span<float> destination)
    {
        int width = image.Width, height = image.Height, channels = image.Channels;
        byte[] pixels = image.Pixels;
        double rowRatio = size > 1 ? (double)(height - 1) / (size - 1) : (double)height / size;
        double colRatio = size > 1 ? (double)(width - 1) / (size - 1) : (double)width / size;

        Span<int> colFloor = size <= 1024 ? stackalloc int[size] : new int[size];
        Span<int> colCeil = size <= 1024 ? stackalloc int[size] : new int[size];
        Span<double> colFrac = size <= 1024 ? stackalloc double[size] : new double[size];
        for (int c = 0; c < size; c++)
        {
            double source = colRatio * c;
            int floor = Math.Max(0, (int)Math.Floor(source));
            colFloor[c] = floor * channels;
            colCeil[c] = Math.Min(width - 1, (int)Math.Ceiling(source)) * channels;
            colFrac[c] = source - floor;
        }

        int d = 0;
        for (int r = 0; r < size; r++)
        {
            double source = rowRatio * r;
            int floor = Math.Max(0, (int)Math.Floor(source));
            double rowFrac = source - floor;
            int top = floor * width * channels;
            int bottom = Math.Min(height - 1, (int)Math.Ceiling(source)) * width * channels;
            for (int c = 0; c < size; c++)
            {
                int tl = top + colFloor[c], tr = top + colCeil[c], bl = bottom + colFloor[c], br = bottom + colCeil[c];
                double fc = colFrac[c];
                for (int ch = 0; ch < 3; ch++)
                {
                    int k = channels == 3 ? ch : 0;
                    double topLeft = Normalised[pixels[tl + k]], topRight = Normalised[pixels[tr + k]];
                    double bottomLeft = Normalised[pixels[bl + k]], bottomRight = Normalised[pixels[br + k]];
                    double upper = topLeft + (topRight - topLeft) * fc;
                    double lower = bottomLeft + (bottomRight - bottomLeft) * fc;
                    destination[d++] = (float)(upper + (lower - upper) * rowFrac);
                }
            }
        }
    }

    private static float[] BuildNormalisationTable()
    {
        var table = new float[256];
        // v / 255f, a correctly rounded float division, as TF.js's div(255) stores it (not v * (1f / 255f)).
        for (int v = 0; v < table.Length; v++) table[v] = v / 255f;
        return table;
    }
}
