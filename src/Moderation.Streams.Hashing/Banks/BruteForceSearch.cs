using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Moderation.Streams.Hashing.Banks;

/// <summary>
/// Linear scan over packed hashes: the baseline an index must beat, and the reference its results are checked
/// against. Three kernels: AVX-512 (two hashes per 512-bit vector, nibble-table popcount with 512-bit
/// <c>vpshufb</c>, one branch per eight hashes), AVX2 (XOR of 256 bits, nibble-table popcount with <c>vpshufb</c>, four hashes' counts summed
/// together) and scalar (four hardware POPCNTs per hash).
/// </summary>
public sealed class BruteForceSearch
{
    private readonly ulong[] _hashes;

    public BruteForceSearch(ReadOnlySpan<PdqHash> hashes)
    {
        _hashes = new ulong[4 * hashes.Length];
        for (int i = 0; i < hashes.Length; i++) hashes[i].CopyTo(_hashes.AsSpan(4 * i, 4));
    }

    public int Count => _hashes.Length / 4;

    public PdqHash HashAt(int position) => new(_hashes[4 * position], _hashes[4 * position + 1], _hashes[4 * position + 2], _hashes[4 * position + 3]);

    public static bool SimdSupported => Avx2.IsSupported;

    /// <summary>Whether the AVX-512 kernel (the AVX2 kernel on 512-bit vectors, two hashes per vector) can run.
    /// .NET 10 has no <c>vpopcntq</c> intrinsic, so it counts with the nibble table too.</summary>
    public static bool Avx512Supported => Avx512BW.IsSupported && Avx512F.IsSupported;

    /// <summary>Appends every hash within <paramref name="maxDistance"/>, in position order.</summary>
    public void Search(PdqHash query, int maxDistance, List<IndexHit> hits, bool simd = true) =>
        Search(query, maxDistance, hits, simd ? (Avx2.IsSupported ? BruteForceKernel.Avx2 : BruteForceKernel.Scalar) : BruteForceKernel.Scalar);

    /// <summary>Appends every hash within <paramref name="maxDistance"/>, in position order, with the given
    /// kernel (falling back to scalar where the CPU lacks it).</summary>
    public void Search(PdqHash query, int maxDistance, List<IndexHit> hits, BruteForceKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(hits);
        if (kernel == BruteForceKernel.Avx512 && Avx512Supported) SearchAvx512(query, maxDistance, hits);
        else if (kernel != BruteForceKernel.Scalar && Avx2.IsSupported) SearchAvx2(query, maxDistance, hits);
        else SearchScalar(query, maxDistance, hits);
    }

    private void SearchAvx512(PdqHash query, int maxDistance, List<IndexHit> hits)
    {
        ulong q0 = query.GetWord(0), q1 = query.GetWord(1), q2 = query.GetWord(2), q3 = query.GetWord(3);
        var q = Vector512.Create(q0, q1, q2, q3, q0, q1, q2, q3);
        var swapOne = Vector512.Create(1UL, 0, 3, 2, 5, 4, 7, 6);
        var swapTwo = Vector512.Create(2UL, 3, 0, 1, 6, 7, 4, 5);
        var limit = Vector512.Create((ulong)maxDistance);
        var lut = Vector512.Create(Vector128.Create((byte)0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
        var low = Vector512.Create((byte)0x0F);
        var vectors = MemoryMarshal.Cast<ulong, Vector512<ulong>>(_hashes.AsSpan());
        int n = vectors.Length, v = 0;
        for (; v + 3 < n; v += 4)
        {
            // Per vector two hashes of four 64-bit counts; two lane swaps leave each hash's sum in all its lanes.
            var a = Sums(Counts512(vectors[v] ^ q, lut, low), swapOne, swapTwo);
            var b = Sums(Counts512(vectors[v + 1] ^ q, lut, low), swapOne, swapTwo);
            var c = Sums(Counts512(vectors[v + 2] ^ q, lut, low), swapOne, swapTwo);
            var d = Sums(Counts512(vectors[v + 3] ^ q, lut, low), swapOne, swapTwo);
            var near = Vector512.LessThanOrEqual(Vector512.Min(Vector512.Min(a, b), Vector512.Min(c, d)), limit);
            if (near == Vector512<ulong>.Zero) continue;
            AddNear(a, 2 * v, maxDistance, hits);
            AddNear(b, 2 * v + 2, maxDistance, hits);
            AddNear(c, 2 * v + 4, maxDistance, hits);
            AddNear(d, 2 * v + 6, maxDistance, hits);
        }
        for (; v < n; v++) AddNear(Sums(Counts512(vectors[v] ^ q, lut, low), swapOne, swapTwo), 2 * v, maxDistance, hits);
        // An odd count leaves one hash outside the 512-bit vectors.
        for (int p = 2 * n; p < Count; p++)
        {
            int i = 4 * p;
            int d = BitOperations.PopCount(_hashes[i] ^ q0) + BitOperations.PopCount(_hashes[i + 1] ^ q1)
                + BitOperations.PopCount(_hashes[i + 2] ^ q2) + BitOperations.PopCount(_hashes[i + 3] ^ q3);
            if (d <= maxDistance) hits.Add(new IndexHit(p, d));
        }
    }

    // Per 64-bit lane, its popcount: nibble table lookups, then the sum of each lane's 8 bytes.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> Counts512(Vector512<ulong> x, Vector512<byte> lut, Vector512<byte> low)
    {
        var bytes = x.AsByte();
        var lo = Avx512BW.Shuffle(lut, bytes & low);
        var hi = Avx512BW.Shuffle(lut, Avx512BW.ShiftRightLogical(x.AsUInt16(), 4).AsByte() & low);
        return Avx512BW.SumAbsoluteDifferences(lo + hi, Vector512<byte>.Zero).AsUInt64();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> Sums(Vector512<ulong> counts, Vector512<ulong> swapOne, Vector512<ulong> swapTwo)
    {
        counts += Avx512F.PermuteVar8x64(counts, swapOne);
        return counts + Avx512F.PermuteVar8x64(counts, swapTwo);
    }

    private static void AddNear(Vector512<ulong> sums, int position, int maxDistance, List<IndexHit> hits)
    {
        int first = (int)sums.GetElement(0), second = (int)sums.GetElement(4);
        if (first <= maxDistance) hits.Add(new IndexHit(position, first));
        if (second <= maxDistance) hits.Add(new IndexHit(position + 1, second));
    }

    private void SearchScalar(PdqHash query, int maxDistance, List<IndexHit> hits)
    {
        ulong q0 = query.GetWord(0), q1 = query.GetWord(1), q2 = query.GetWord(2), q3 = query.GetWord(3);
        var h = _hashes;
        for (int i = 0, p = 0; i + 3 < h.Length; i += 4, p++)
        {
            int d = BitOperations.PopCount(h[i] ^ q0) + BitOperations.PopCount(h[i + 1] ^ q1)
                + BitOperations.PopCount(h[i + 2] ^ q2) + BitOperations.PopCount(h[i + 3] ^ q3);
            if (d <= maxDistance) hits.Add(new IndexHit(p, d));
        }
    }

    private void SearchAvx2(PdqHash query, int maxDistance, List<IndexHit> hits)
    {
        var q = Vector256.Create(query.GetWord(0), query.GetWord(1), query.GetWord(2), query.GetWord(3)).AsByte();
        var lut = Vector256.Create((byte)0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
        var low = Vector256.Create((byte)0x0F);
        var vectors = MemoryMarshal.Cast<ulong, Vector256<byte>>(_hashes.AsSpan());
        int n = vectors.Length, p = 0;
        for (; p + 3 < n; p += 4)
        {
            // Each lane of a SAD result is at most 64: four hashes' lanes pack into 16-bit fields of one vector.
            var a = Counts(vectors[p] ^ q, lut, low);
            var b = Counts(vectors[p + 1] ^ q, lut, low);
            var c = Counts(vectors[p + 2] ^ q, lut, low);
            var d = Counts(vectors[p + 3] ^ q, lut, low);
            var packed = a | Avx2.ShiftLeftLogical(b, 16) | Avx2.ShiftLeftLogical(c, 32) | Avx2.ShiftLeftLogical(d, 48);
            ulong sum = packed.GetElement(0) + packed.GetElement(1) + packed.GetElement(2) + packed.GetElement(3);
            if ((int)(sum & 0xFFFF) <= maxDistance) hits.Add(new IndexHit(p, (int)(sum & 0xFFFF)));
            if ((int)((sum >> 16) & 0xFFFF) <= maxDistance) hits.Add(new IndexHit(p + 1, (int)((sum >> 16) & 0xFFFF)));
            if ((int)((sum >> 32) & 0xFFFF) <= maxDistance) hits.Add(new IndexHit(p + 2, (int)((sum >> 32) & 0xFFFF)));
            if ((int)(sum >> 48) <= maxDistance) hits.Add(new IndexHit(p + 3, (int)(sum >> 48)));
        }
        for (; p < n; p++)
        {
            var s = Counts(vectors[p] ^ q, lut, low);
            int d = (int)(s.GetElement(0) + s.GetElement(1) + s.GetElement(2) + s.GetElement(3));
            if (d <= maxDistance) hits.Add(new IndexHit(p, d));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> Counts(Vector256<byte> x, Vector256<byte> lut, Vector256<byte> low)
    {
        var lo = Avx2.Shuffle(lut, x & low);
        var hi = Avx2.Shuffle(lut, Avx2.ShiftRightLogical(x.AsUInt16(), 4).AsByte() & low);
        return Avx2.SumAbsoluteDifferences(lo + hi, Vector256<byte>.Zero).AsUInt64();
    }
}
