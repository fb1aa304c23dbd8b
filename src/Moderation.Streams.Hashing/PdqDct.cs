using System.Numerics;
using System.Runtime.CompilerServices;

namespace Moderation.Streams.Hashing;

/// <summary>
/// The 64x64 to 16x16 DCT (frequencies 1..16 of a DCT-II in both directions), the quality metric, the median
/// threshold and the dihedral sign/transpose tricks. Sums run in the reference's order, in float.
/// </summary>
internal static class PdqDct
{
    /// <summary>16 rows x 64 columns, row-major: row i is frequency i + 1.</summary>
    private static readonly float[] Matrix = BuildMatrix();

    private static float[] BuildMatrix()
    {
        var matrix = new float[16 * 64];
        // The scale is rounded to float first, then the product is formed in double and rounded once: as the reference.
        float scale = (float)Math.Sqrt(2.0 / 64.0);
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 64; j++)
                matrix[i * 64 + j] = (float)(scale * Math.Cos(Math.PI / 2 / 64.0 * (i + 1) * (2 * j + 1)));
        return matrix;
    }

    /// <summary>B = D A Dᵀ with the intermediate T = D A, each dot product summed left to right from 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // Vector<T> code is not precompiled (ReadyToRun): JIT it optimised at once
    public static void Dct64To16(ReadOnlySpan<float> a64x64, Span<float> t16x64, Span<float> b16x16)
    {
        ReadOnlySpan<float> d = Matrix;
        // T's 64 sums of a row advance together, a vector of columns at a time: each element still adds its
        // products for k = 0, 1, ..., 63 in turn (a multiply, then an add: never fused), as the scalar loop would.
        int width = Vector<float>.Count;
        for (int i = 0; i < 16; i++)
        {
            var di = d.Slice(i * 64, 64);
            var ti = t16x64.Slice(i * 64, 64);
            for (int j = 0; j + width <= 64; j += width)
            {
                var sum = Vector<float>.Zero;
                for (int k = 0; k < 64; k++) sum += new Vector<float>(di[k]) * new Vector<float>(a64x64.Slice(k * 64 + j, width));
                sum.CopyTo(ti[j..]);
            }
        }
        for (int i = 0; i < 16; i++)
        {
            var ti = t16x64.Slice(i * 64, 64);
            for (int j = 0; j < 16; j++)
            {
                var dj = d.Slice(j * 64, 64);
                float sum = 0f;
                for (int k = 0; k < 64; k++) sum += ti[k] * dj[k];
                b16x16[i * 16 + j] = sum;
            }
        }
    }

    /// <summary>
    /// Counts significant neighbour differences of the 64x64 downsample (each quantised to whole percent of
    /// full scale, truncated), scaled so that 9000 or more reads as 100.
    /// </summary>
    public static int Quality(ReadOnlySpan<float> a64x64)
    {
        int gradientSum = 0;
        for (int i = 0; i < 63; i++)
            for (int j = 0; j < 64; j++)
                gradientSum += Math.Abs((int)((a64x64[i * 64 + j] - a64x64[(i + 1) * 64 + j]) * 100 / 255));
        for (int i = 0; i < 64; i++)
            for (int j = 0; j < 63; j++)
                gradientSum += Math.Abs((int)((a64x64[i * 64 + j] - a64x64[i * 64 + j + 1]) * 100 / 255));
        return Math.Min(gradientSum / 90, 100);
    }

    /// <summary>Bit i*16+j is set when coefficient [i][j] is strictly greater than the median.</summary>
    public static PdqHash ToHash(ReadOnlySpan<float> b16x16)
    {
        float median = TorbenMedian(b16x16);
        Span<ulong> words = stackalloc ulong[4];
        for (int k = 0; k < 256; k++)
            if (b16x16[k] > median) words[k >> 6] |= 1UL << (k & 63);
        return PdqHash.FromWords(words);
    }

    /// <summary>
    /// Torben Mogensen's median (no sorting, no copy). For an even count it returns the lower of the two middle
    /// values, or the midpoint guess when values tie there, as the reference does; bisection in float.
    /// </summary>
    public static float TorbenMedian(ReadOnlySpan<float> m)
    {
        int n = m.Length, half = (n + 1) / 2;
        float min = m[0], max = m[0];
        for (int i = 1; i < n; i++)
        {
            if (m[i] < min) min = m[i];
            if (m[i] > max) max = m[i];
        }

        int less, greater, equal;
        float guess, maxLessThanGuess, minGreaterThanGuess;
        while (true)
        {
            guess = (min + max) / 2;
            less = greater = equal = 0;
            maxLessThanGuess = min;
            minGreaterThanGuess = max;
            foreach (float v in m)
            {
                if (v < guess)
                {
                    less++;
                    if (v > maxLessThanGuess) maxLessThanGuess = v;
                }
                else if (v > guess)
                {
                    greater++;
                    if (v < minGreaterThanGuess) minGreaterThanGuess = v;
                }
                else
                {
                    equal++;
                }
            }
            if (less <= half && greater <= half) break;
            if (less > greater) max = maxLessThanGuess;
            else min = minGreaterThanGuess;
        }
        if (less >= half) return maxLessThanGuess;
        if (less + equal >= half) return guess;
        return minGreaterThanGuess;
    }

    /// <summary>
    /// The DCT of a rotated or mirrored picture, from the original's: a mirror reverses one axis, which
    /// negates the odd-numbered frequencies (1, 3, ...; even indices here) along it; a quarter turn also transposes.
    /// </summary>
    public static void Transform(ReadOnlySpan<float> a, Span<float> b, PdqTransform transform)
    {
        for (int i = 0; i < 16; i++)
        {
            for (int j = 0; j < 16; j++)
            {
                float v = a[i * 16 + j];
                bool iEven = (i & 1) == 0, jEven = (j & 1) == 0, sumOdd = ((i + j) & 1) == 1;
                switch (transform)
                {
                    case PdqTransform.Original: b[i * 16 + j] = v; break;
                    case PdqTransform.Rotate90: b[j * 16 + i] = jEven ? -v : v; break;
                    case PdqTransform.Rotate180: b[i * 16 + j] = sumOdd ? -v : v; break;
                    case PdqTransform.Rotate270: b[j * 16 + i] = iEven ? -v : v; break;
                    case PdqTransform.FlipX: b[i * 16 + j] = iEven ? -v : v; break;
                    case PdqTransform.FlipY: b[i * 16 + j] = jEven ? -v : v; break;
                    case PdqTransform.FlipPlus1: b[j * 16 + i] = v; break;
                    case PdqTransform.FlipMinus1: b[j * 16 + i] = sumOdd ? -v : v; break;
                    default: throw new ArgumentOutOfRangeException(nameof(transform), transform, null);
                }
            }
        }
    }
}
