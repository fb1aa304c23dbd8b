using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Moderation.Streams.Media;

namespace Moderation.Streams.Inference;

/// <summary>
/// Turns a decoded image into the model input exactly as nsfwjs does (its <c>src/core.ts</c>, TF.js CPU
/// kernels): RGB (grey replicated, alpha already dropped) → <c>v / 255f</c> → only when the image is not
/// already S×S: bilinear resize to S×S with align-corners (no half-pixel centres, aspect ratio not kept,
/// no crop, no antialiasing), interpolated in double and rounded once to float32 → NHWC.
/// <para>
/// On x64 with AVX2 an RGB image is resampled one output pixel (three channels) per step in 256-bit doubles;
/// the arithmetic and its order are those of the scalar path (no fused multiply-add), so both give the same
/// bits (tests compare them). Grey images and other processors take the scalar path.
/// </para>
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
        else if (image.Channels == 3 && VectorPathSupported) ResizeRgbAlignCornersAvx2(image, size, destination);
        else ResizeAlignCorners(image, size, destination);
    }

    /// <summary>Whether RGB resizes take the AVX2 path on this processor.</summary>
    public static bool VectorPathSupported => Avx2.IsSupported;

    /// <summary>The scalar path alone: the reference the vector path matches bit for bit, and the bench's baseline.</summary>
    public static void WriteScalar(DecodedImage image, int size, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        if (destination.Length != size * size * 3)
            throw new ArgumentException($"destination holds {destination.Length} floats, {size}x{size}x3 needs {size * size * 3}", nameof(destination));
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

    // The scalar path's arithmetic, an output pixel's three channels at a time: four 4-byte loads (RGB + the
    // next pixel's first byte, ignored) widened to int → float → v / 255f (IEEE division, the table's value) →
    // double, then the same two horizontal lerps and one vertical lerp, one rounding to float. A load that
    // would read past the source's end, and the destination's last pixel, go through the scalar code.
    private static unsafe void ResizeRgbAlignCornersAvx2(DecodedImage image, int size, Span<float> destination)
    {
        int width = image.Width, height = image.Height;
        byte[] pixels = image.Pixels;
        int sourceLength = width * height * 3;
        if (pixels.Length < sourceLength)
            throw new ArgumentException($"image holds {pixels.Length} bytes, {width}x{height}x3 needs {sourceLength}", nameof(image));
        double rowRatio = size > 1 ? (double)(height - 1) / (size - 1) : (double)height / size;
        double colRatio = size > 1 ? (double)(width - 1) / (size - 1) : (double)width / size;

        int[] columns = System.Buffers.ArrayPool<int>.Shared.Rent(size * 2);
        double[] fractions = System.Buffers.ArrayPool<double>.Shared.Rent(size);
        try
        {
            for (int c = 0; c < size; c++)
            {
                double source = colRatio * c;
                int floor = Math.Max(0, (int)Math.Floor(source));
                columns[2 * c] = floor * 3;
                columns[2 * c + 1] = Math.Min(width - 1, (int)Math.Ceiling(source)) * 3;
                fractions[c] = source - floor;
            }

            var scale = Vector128.Create(255f);
            fixed (byte* src = pixels)
            fixed (float* dst = destination)
            fixed (int* cols = columns)
            fixed (double* fracs = fractions)
            {
                int d = 0, last = size * size * 3 - 3;
                for (int r = 0; r < size; r++)
                {
                    double source = rowRatio * r;
                    int floor = Math.Max(0, (int)Math.Floor(source));
                    var rowFrac = Vector256.Create(source - floor);
                    int top = floor * width * 3;
                    int bottom = Math.Min(height - 1, (int)Math.Ceiling(source)) * width * 3;
                    byte* topRow = src + top, bottomRow = src + bottom;
                    int safe = sourceLength - 4 - bottom; // a column offset up to this can be read 4 bytes wide on both rows
                    for (int c = 0; c < size; c++, d += 3)
                    {
                        int left = cols[2 * c], right = cols[2 * c + 1];
                        if (right > safe || d == last)
                        {
                            ScalarPixel(pixels, top + left, top + right, bottom + left, bottom + right, fracs[c], source - floor, dst + d);
                            continue;
                        }
                        var fc = Vector256.Create(fracs[c]);
                        var topLeft = Load(topRow + left, scale);
                        var upper = topLeft + (Load(topRow + right, scale) - topLeft) * fc;
                        var bottomLeft = Load(bottomRow + left, scale);
                        var lower = bottomLeft + (Load(bottomRow + right, scale) - bottomLeft) * fc;
                        // Four floats stored; the fourth is the next pixel's first channel, written again next step.
                        Avx.ConvertToVector128Single(upper + (lower - upper) * rowFrac).Store(dst + d);
                    }
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<int>.Shared.Return(columns);
            System.Buffers.ArrayPool<double>.Shared.Return(fractions);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<double> Load(byte* pixel, Vector128<float> scale) =>
        Avx.ConvertToVector256Double(Sse2.ConvertToVector128Single(Sse41.ConvertToVector128Int32(pixel)) / scale);

    private static unsafe void ScalarPixel(byte[] pixels, int tl, int tr, int bl, int br, double fc, double rowFrac, float* output)
    {
        for (int ch = 0; ch < 3; ch++)
        {
            double topLeft = Normalised[pixels[tl + ch]], topRight = Normalised[pixels[tr + ch]];
            double bottomLeft = Normalised[pixels[bl + ch]], bottomRight = Normalised[pixels[br + ch]];
            double upper = topLeft + (topRight - topLeft) * fc;
            double lower = bottomLeft + (bottomRight - bottomLeft) * fc;
            output[ch] = (float)(upper + (lower - upper) * rowFrac);
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
