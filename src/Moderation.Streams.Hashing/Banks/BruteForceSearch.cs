using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Moderation.Streams.Hashing.Banks;

/// <summary>
/// Linear scan over packed hashes: the baseline an index must beat, and the reference its results are checked
/// against. Two kernels: AVX2 (XOR of 256 bits, nibble-table popcount with <c>vpshufb</c>, four hashes' counts
/// summed together) and scalar (four hardware POPCNTs per hash).
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

    public static bool SimdSupported => Avx2.IsSupported;

    /// <summary>Appends every hash within <paramref name="maxDistance"/>, in position order.</summary>
    public void Search(PdqHash query, int maxDistance, List<IndexHit> hits, bool simd = true)
    {
        ArgumentNullException.ThrowIfNull(hits);
        if (simd && Avx2.IsSupported) SearchAvx2(query, maxDistance, hits);
        else SearchScalar(query, maxDistance, hits);
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
