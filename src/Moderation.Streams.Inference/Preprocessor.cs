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
    public static void Write(DecodedImage image, int size, Span<float> destination) => Write(image, size, destination, VectorPathSupported);

    /// <summary>Whether RGB resizes take the AVX2 path on this processor.</summary>
    public static bool VectorPathSupported => Avx2.IsSupported;

    /// <summary>The scalar path alone: the reference the vector path matches bit for bit, and the bench's baseline.</summary>
    public static void WriteScalar(DecodedImage image, int size, Span<float> destination) => Write(image, size, destination, vector: false);

    private static void Write(DecodedImage image, int size, Span<float> destination, bool vector)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        int length = size * size * 3;
        if (destination.Length != length)
            throw new ArgumentException($"destination holds {destination.Length} floats, {size}x{size}x3 needs {length}", nameof(destination));

        if (image.Width == size && image.Height == size) CopyNormalised(image, destination);
        else ResizeAlignCorners(image, size, destination, vector && image.Channels == 3);
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
    // inputs, one rounding to float32 at the end. With `vector` (RGB, AVX2) an output pixel's three channels
    // are done at once in 256-bit doubles: four 4-byte loads (RGB + the next pixel's first byte, ignored)
    // widened to int → float → v / 255f (IEEE division, the table's value) → double, then the same two
    // horizontal lerps and one vertical lerp in the same order (no fused multiply-add), so the bits are the
    // scalar ones. A load that would read past the source's end, and the destination's last pixel (a vector
    // store writes four floats), go through the scalar code.
    private static unsafe void ResizeAlignCorners(DecodedImage image, int size, Span<float> destination, bool vector)
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

        var scale = Vector128.Create(255f);
        fixed (byte* src = pixels)
        fixed (float* dst = destination)
        {
            int d = 0, last = size * size * 3 - 3;
            for (int r = 0; r < size; r++)
            {
                double source = rowRatio * r;
                int floor = Math.Max(0, (int)Math.Floor(source));
                double rowFrac = source - floor;
                int top = floor * width * channels;
                int bottom = Math.Min(height - 1, (int)Math.Ceiling(source)) * width * channels;
                // Column offsets up to this can be read 4 bytes wide on both rows; -1: no vector loads.
                int safe = vector ? pixels.Length - 4 - bottom : -1;
                var rowFracs = Vector256.Create(rowFrac);
                for (int c = 0; c < size; c++, d += 3)
                {
                    int left = colFloor[c], right = colCeil[c];
                    double fc = colFrac[c];
                    if (right > safe || d == last)
                    {
                        for (int ch = 0; ch < 3; ch++)
                        {
                            int k = channels == 3 ? ch : 0;
                            double topLeft = Normalised[src[top + left + k]], topRight = Normalised[src[top + right + k]];
                            double bottomLeft = Normalised[src[bottom + left + k]], bottomRight = Normalised[src[bottom + right + k]];
                            double upper = topLeft + (topRight - topLeft) * fc;
                            double lower = bottomLeft + (bottomRight - bottomLeft) * fc;
                            dst[d + ch] = (float)(upper + (lower - upper) * rowFrac);
                        }
                        continue;
                    }
                    var fcs = Vector256.Create(fc);
                    var vTopLeft = Load(src + top + left, scale);
                    var vUpper = vTopLeft + (Load(src + top + right, scale) - vTopLeft) * fcs;
                    var vBottomLeft = Load(src + bottom + left, scale);
                    var vLower = vBottomLeft + (Load(src + bottom + right, scale) - vBottomLeft) * fcs;
                    // Four floats stored; the fourth is the next pixel's first channel, written again next step.
                    Avx.ConvertToVector128Single(vUpper + (vLower - vUpper) * rowFracs).Store(dst + d);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<double> Load(byte* pixel, Vector128<float> scale) =>
        Avx.ConvertToVector256Double(Sse2.ConvertToVector128Single(Sse41.ConvertToVector128Int32(pixel)) / scale);

    private static float[] BuildNormalisationTable()
    {
        var table = new float[256];
        // v / 255f, a correctly rounded float division, as TF.js's div(255) stores it (not v * (1f / 255f)).
        for (int v = 0; v < table.Length; v++) table[v] = v / 255f;
        return table;
    }
}
