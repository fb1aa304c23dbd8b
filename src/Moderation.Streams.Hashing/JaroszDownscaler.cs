using System.Numerics;
using System.Runtime.CompilerServices;

namespace Moderation.Streams.Hashing;

/// <summary>
/// The reference's downscaling: a two-pass Jarosz (box-filter tent) blur of the float luma, then a
/// nearest-centre decimation to 64x64. Every float operation is done in the reference's order and
/// precision so that results are bit-identical; the column pass sweeps rows (each column keeps its own
/// running sum) only for cache locality, which does not change any column's sequence of operations.
/// </summary>
internal static class JaroszDownscaler
{
    public const int Passes = 2;

    /// <summary>Half the size of a 64th of the side, rounded up: two passes then cover one output cell.</summary>
    public static int WindowSize(int oldDimension, int newDimension) =>
        (oldDimension + 2 * newDimension - 1) / (2 * newDimension);

    /// <summary>Blurs <paramref name="buffer1"/> in place (result in buffer1); buffer2 is scratch.</summary>
    public static void Filter(Span<float> buffer1, Span<float> buffer2, Span<float> columnSums,
        int rows, int cols, int windowAlongRows, int windowAlongCols)
    {
        for (int pass = 0; pass < Passes; pass++)
        {
            BoxRows(buffer1, buffer2, columnSums[..cols], rows, cols, windowAlongRows);
            BoxColumns(buffer2, buffer1, columnSums[..cols], rows, cols, windowAlongCols);
        }
    }

    // Every row's running sums (BoxRow's order of operations), four rows at a time so that four independent
    // add/subtract chains overlap in the core; then each output row is divided by its window counts, a vector
    // at a time (the same IEEE division per element as BoxRow's `sum / count`).
    private static unsafe void BoxRows(ReadOnlySpan<float> input, Span<float> output, Span<float> counts, int rows, int cols, int window)
    {
        int half = (window + 2) / 2;
        int phase1 = half - 1, phase2 = window - half + 1, phase3 = cols - window, phase4 = half - 1;
        if (phase3 < 0)
        {
            // A row shorter than the window: the reference's own loop, row by row.
            for (int i = 0; i < rows; i++) BoxRow(input.Slice(i * cols, cols), output.Slice(i * cols, cols), window);
            return;
        }
        // The divisor of each output position (the same for every row).
        {
            int oi = 0, count = phase1;
            for (int i = 0; i < phase2; i++) counts[oi++] = ++count;
            for (int i = 0; i < phase3; i++) counts[oi++] = count;
            for (int i = 0; i < phase4; i++) counts[oi++] = --count;
        }
        fixed (float* inBase = input)
        fixed (float* outBase = output)
        {
            int r = 0;
            for (; r + 4 <= rows; r += 4)
            {
                float* a = inBase + r * cols, b = a + cols, c = b + cols, d = c + cols;
                float* oa = outBase + r * cols, ob = oa + cols, oc = ob + cols, od = oc + cols;
                float sa = 0f, sb = 0f, sc = 0f, sd = 0f;
                int li = 0, ri = 0, oi = 0;
                for (int i = 0; i < phase1; i++, ri++)
                {
                    sa += a[ri]; sb += b[ri]; sc += c[ri]; sd += d[ri];
                }
                for (int i = 0; i < phase2; i++, ri++, oi++)
                {
                    sa += a[ri]; sb += b[ri]; sc += c[ri]; sd += d[ri];
                    oa[oi] = sa; ob[oi] = sb; oc[oi] = sc; od[oi] = sd;
                }
                for (int i = 0; i < phase3; i++, li++, ri++, oi++)
                {
                    sa += a[ri]; sb += b[ri]; sc += c[ri]; sd += d[ri];
                    sa -= a[li]; sb -= b[li]; sc -= c[li]; sd -= d[li];
                    oa[oi] = sa; ob[oi] = sb; oc[oi] = sc; od[oi] = sd;
                }
                for (int i = 0; i < phase4; i++, li++, oi++)
                {
                    sa -= a[li]; sb -= b[li]; sc -= c[li]; sd -= d[li];
                    oa[oi] = sa; ob[oi] = sb; oc[oi] = sc; od[oi] = sd;
                }
            }
            for (; r < rows; r++)
            {
                float* a = inBase + r * cols, oa = outBase + r * cols;
                float sa = 0f;
                int li = 0, ri = 0, oi = 0;
                for (int i = 0; i < phase1; i++, ri++) sa += a[ri];
                for (int i = 0; i < phase2; i++, ri++, oi++) { sa += a[ri]; oa[oi] = sa; }
                for (int i = 0; i < phase3; i++, li++, ri++, oi++) { sa += a[ri]; sa -= a[li]; oa[oi] = sa; }
                for (int i = 0; i < phase4; i++, li++, oi++) { sa -= a[li]; oa[oi] = sa; }
            }
        }
        for (int i = 0; i < rows; i++) DivideBy(output.Slice(i * cols, cols), counts);
    }

    // Output i averages the window around i; near the ends the window is cut short and the divisor
    // shrinks with it. The running sum is updated add-then-subtract exactly as the reference does.
    private static void BoxRow(ReadOnlySpan<float> input, Span<float> output, int window)
    {
        int half = (window + 2) / 2;
        int phase1 = half - 1, phase2 = window - half + 1, phase3 = input.Length - window, phase4 = half - 1;
        int li = 0, ri = 0, oi = 0, count = 0;
        float sum = 0f;

        for (int i = 0; i < phase1; i++, ri++, count++)
            sum += input[ri];
        for (int i = 0; i < phase2; i++, ri++, oi++)
        {
            sum += input[ri];
            count++;
            output[oi] = sum / count;
        }
        for (int i = 0; i < phase3; i++, li++, ri++, oi++)
        {
            sum += input[ri];
            sum -= input[li];
            output[oi] = sum / count;
        }
        for (int i = 0; i < phase4; i++, li++, oi++)
        {
            sum -= input[li];
            count--;
            output[oi] = sum / count;
        }
    }

    // BoxRow applied to every column at once, sweeping whole rows.
    private static void BoxColumns(ReadOnlySpan<float> input, Span<float> output, Span<float> sums,
        int rows, int cols, int window)
    {
        int half = (window + 2) / 2;
        int phase1 = half - 1, phase2 = window - half + 1, phase3 = rows - window, phase4 = half - 1;
        int li = 0, ri = 0, oi = 0, count = 0;
        sums.Clear();

        for (int i = 0; i < phase1; i++, ri++, count++)
            Add(sums, input.Slice(ri * cols, cols));
        for (int i = 0; i < phase2; i++, ri++, oi++)
        {
            Add(sums, input.Slice(ri * cols, cols));
            count++;
            Divide(sums, count, output.Slice(oi * cols, cols));
        }
        for (int i = 0; i < phase3; i++, li++, ri++, oi++)
        {
            Add(sums, input.Slice(ri * cols, cols));
            Subtract(sums, input.Slice(li * cols, cols));
            Divide(sums, count, output.Slice(oi * cols, cols));
        }
        for (int i = 0; i < phase4; i++, li++, oi++)
        {
            Subtract(sums, input.Slice(li * cols, cols));
            count--;
            Divide(sums, count, output.Slice(oi * cols, cols));
        }
    }

    // Element-wise, so a vector at a time gives each element exactly the scalar result.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // Vector<T> code is not precompiled (ReadyToRun): JIT it optimised at once
    private static void Add(Span<float> sums, ReadOnlySpan<float> row)
    {
        int j = 0;
        for (; j <= sums.Length - Vector<float>.Count; j += Vector<float>.Count)
            (new Vector<float>(sums[j..]) + new Vector<float>(row[j..])).CopyTo(sums[j..]);
        for (; j < sums.Length; j++) sums[j] += row[j];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // Vector<T> code is not precompiled (ReadyToRun): JIT it optimised at once
    private static void Subtract(Span<float> sums, ReadOnlySpan<float> row)
    {
        int j = 0;
        for (; j <= sums.Length - Vector<float>.Count; j += Vector<float>.Count)
            (new Vector<float>(sums[j..]) - new Vector<float>(row[j..])).CopyTo(sums[j..]);
        for (; j < sums.Length; j++) sums[j] -= row[j];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // Vector<T> code is not precompiled (ReadyToRun): JIT it optimised at once
    private static void Divide(ReadOnlySpan<float> sums, int count, Span<float> row)
    {
        float divisor = count;
        var divisors = new Vector<float>(divisor);
        int j = 0;
        for (; j <= sums.Length - Vector<float>.Count; j += Vector<float>.Count)
            (new Vector<float>(sums[j..]) / divisors).CopyTo(row[j..]);
        for (; j < sums.Length; j++) row[j] = sums[j] / divisor;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // Vector<T> code is not precompiled (ReadyToRun): JIT it optimised at once
    private static void DivideBy(Span<float> row, ReadOnlySpan<float> counts)
    {
        int j = 0;
        for (; j <= row.Length - Vector<float>.Count; j += Vector<float>.Count)
            (new Vector<float>(row[j..]) / new Vector<float>(counts[j..])).CopyTo(row[j..]);
        for (; j < row.Length; j++) row[j] /= counts[j];
    }

    /// <summary>Samples the centre of each of the 64x64 output cells (index computed in double, as the reference does).</summary>
    public static void Decimate(ReadOnlySpan<float> input, int rows, int cols, Span<float> output64x64)
    {
        Span<int> columnIndex = stackalloc int[64];
        for (int j = 0; j < 64; j++) columnIndex[j] = (int)((j + 0.5) * cols / 64);
        for (int i = 0; i < 64; i++)
        {
            int row = (int)((i + 0.5) * rows / 64);
            var source = input.Slice(row * cols, cols);
            var target = output64x64.Slice(i * 64, 64);
            for (int j = 0; j < 64; j++) target[j] = source[columnIndex[j]];
        }
    }
}
