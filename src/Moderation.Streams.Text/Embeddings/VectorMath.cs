using System.Numerics;
using System.Runtime.InteropServices;

namespace Moderation.Streams.Text.Embeddings;

/// <summary>Dot products and unit scaling of float vectors with <see cref="Vector{T}"/> (SIMD where the CPU has it).</summary>
public static class VectorMath
{
    public static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException("vectors of different lengths");
        var sum = Vector<float>.Zero;
        int i = 0, width = Vector<float>.Count;
        var va = MemoryMarshal.Cast<float, Vector<float>>(a);
        var vb = MemoryMarshal.Cast<float, Vector<float>>(b);
        for (int k = 0; k < va.Length; k++) sum += va[k] * vb[k];
        i = va.Length * width;
        float total = Vector.Sum(sum);
        for (; i < a.Length; i++) total += a[i] * b[i];
        return total;
    }

    /// <summary>Scales <paramref name="v"/> to unit length (a zero vector stays zero).</summary>
    public static void Normalize(Span<float> v)
    {
        float norm = MathF.Sqrt(Dot(v, v));
        if (norm == 0 || !float.IsFinite(norm)) return;
        for (int i = 0; i < v.Length; i++) v[i] /= norm;
    }
}
