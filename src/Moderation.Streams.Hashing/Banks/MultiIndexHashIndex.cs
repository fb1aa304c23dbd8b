using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Moderation.Streams.Hashing.Banks;

/// <summary>
/// Multi-index hashing (Norouzi et al.) for PDQ's 256 bits: one exact table per 16-bit word, 16 tables.
/// <para>
/// Pigeonhole: if two hashes are within distance r, the 16 word distances sum to at most r, so some word is
/// within floor(r / 16) of the query's (for the usual r = 31: within 1, since 16 words each 2 or more apart
/// would make 32). A search therefore probes, in each table, the query's word and every word within that
/// per-word radius (1 + 16 = 17 probes per table at r = 31), and verifies each candidate with the full
/// 256-bit distance. A hash is reported once: by the first table in which its word is within the radius.
/// </para>
/// <para>
/// Layout (compressed sparse rows, one native block): per table 65,536 bucket starts, then the entries in
/// bucket order, 16 bytes each: a 96-bit filter (the 64-bit chunk after the one holding the table's word and the
/// low half of the next) and the hash's 32-bit position; so a bucket (~15 entries at 1M hashes) is one
/// sequential read of ~4 cache lines, and the full hashes are kept once, 32 bytes each, in insertion order. The
/// filter's distance plus the probe's own word distance is a lower bound of the full distance and exceeds the
/// radius for all but ~1 in 6,500 non-matches (random hashes, r = 31), so the random read of a full hash is paid
/// for real candidates and ~0.7 false ones per query at 1M hashes. The block is 2 MiB aligned and asks for transparent huge pages, so the ~272
/// random bucket reads of a query are cache misses but not TLB misses; a search walks its probes in a pipeline
/// that prefetches bucket starts 24 probes ahead and bucket contents 12 probes ahead, so those misses overlap
/// instead of following one another. About 292 bytes per hash (4 MiB of bucket starts + 32 + 16 x 16 per hash).
/// Immutable once built, so any number of threads may search it; searching allocates nothing.
/// </para>
/// </summary>
public sealed unsafe class MultiIndexHashIndex
{
    public const int WordCount = 16;
    private const int Buckets = 1 << 16;
    // Bucket starts per table: 65,536 plus the end, padded so every table's starts begin on a cache line.
    private const int StartsStride = Buckets + 16;

    /// <summary>Largest supported search radius: per-word radius 2 (137 probes per table).</summary>
    public const int MaxSupportedDistance = 3 * WordCount - 1;

    // Probe masks in order of flipped bits: the word itself, the 16 one-bit flips, the 120 two-bit flips, so
    // the first 1, 17 or 137 are the probes for a per-word radius of 0, 1 or 2.
    private static readonly ushort[] s_masks = BuildMasks();
    private static readonly int[] s_probesPerTable = [1, 17, 137];

    private const int StartsAhead = 24;
    private const int BucketsAhead = 12;

    private readonly void* _block;
    private readonly long _blockBytes;
    private readonly uint* _starts;      // WordCount * StartsStride: global entry index of each bucket's first entry
    private readonly ulong* _hashes;     // 4 per hash, in insertion order
    private readonly ulong* _entries;    // 2 per entry (96-bit filter, 32-bit position), WordCount * Count, table after table

    private MultiIndexHashIndex(int count, Reservation? reserved = null)
    {
        Count = count;
        if (count == 0) return;
        long startsBytes = (long)WordCount * StartsStride * sizeof(uint);
        long hashesBytes = 32L * count;
        if (reserved?.Take(count) is { } block)
        {
            _block = (void*)block.Address;
            _blockBytes = block.Bytes;
        }
        else
        {
            _blockBytes = BlockBytes(count);
            _block = HugePageMemory.Allocate(_blockBytes);
        }
        byte* at = (byte*)_block;
        _starts = (uint*)at;
        at += startsBytes;
        _hashes = (ulong*)at;
        at += hashesBytes;
        _entries = (ulong*)at;
    }

    ~MultiIndexHashIndex() => HugePageMemory.Free(_block, _blockBytes);

    public int Count { get; }

    /// <summary>Bytes held by the index (hashes, tables, bucket starts).</summary>
    public long MemoryBytes => _blockBytes;

    public PdqHash this[int position]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(position);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(position, Count);
            ulong* h = _hashes + 4L * position;
            var hash = new PdqHash(h[0], h[1], h[2], h[3]);
            GC.KeepAlive(this);
            return hash;
        }
    }

    private static long BlockBytes(int count) => (long)WordCount * StartsStride * sizeof(uint) + 32L * count + 16L * WordCount * count;

    /// <summary>Memory for an index of up to <paramref name="capacity"/> hashes, faulted in on another thread from now on, so
    /// a caller that knows the size before it has the hashes (a bank being read) overlaps the two. Pass it to
    /// <see cref="Build(ReadOnlySpan{PdqHash}, Reservation?)"/>; one not used is freed when collected.</summary>
    public static Reservation Reserve(int capacity) => new(capacity, BlockBytes(Math.Max(1, capacity)));

    /// <summary>A block of memory set aside for an index (see <see cref="Reserve"/>).</summary>
    public sealed class Reservation
    {
        private void* _block;
        private readonly Task _faulting;

        internal Reservation(int capacity, long bytes)
        {
            Capacity = capacity;
            Bytes = bytes;
            _block = HugePageMemory.Allocate(bytes, prefault: false);
            var block = (nint)_block;
            // Threads of their own (one per core, each a stripe), below normal priority, not the pool's: the read this
            // overlaps (network replies, decoding on the pool) must not wait for them. Faulting in gigabytes takes seconds
            // (far longer on a VM whose host backs guest memory lazily: measured 4-20 s for 2.5 GiB here, 0.2-0.4 s once backed).
            int threads = Math.Max(1, Environment.ProcessorCount);
            long stripe = (bytes / threads + 4095) / 4096 * 4096;
            var parts = new Task[threads];
            for (int t = 0; t < threads; t++)
            {
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                long from = Math.Min(bytes, t * stripe), to = Math.Min(bytes, (t + 1) * stripe);
                new Thread(() =>
                {
                    HugePageMemory.PrefaultOnThisThread((byte*)block + from, to - from);
                    done.SetResult();
                }) { IsBackground = true, Priority = ThreadPriority.BelowNormal, Name = "index-prefault" }.Start();
                parts[t] = done.Task;
            }
            _faulting = Task.WhenAll(parts);
        }

        ~Reservation() => Release();

        /// <summary>Gives the memory back now if no index took it (a load abandoned); once the faulting thread is done with it.</summary>
        public void Release()
        {
            if (_block == null) return;
            var (block, bytes) = ((nint)_block, Bytes);
            _block = null;
            GC.SuppressFinalize(this);
            _faulting.ContinueWith(_ => HugePageMemory.Free((void*)block, bytes), TaskScheduler.Default);
        }

        /// <summary>Hashes the block has room for.</summary>
        public int Capacity { get; }

        internal long Bytes { get; }

        // The block for an index of `count` hashes once it is faulted in; null when it is too small or already taken.
        internal (nint Address, long Bytes)? Take(int count)
        {
            if (_block == null || count > Capacity) return null;
            _faulting.Wait();
            var block = (nint)_block;
            _block = null;
            GC.SuppressFinalize(this);
            return (block, Bytes);
        }
    }

    /// <exception cref="ArgumentOutOfRangeException">More than 2^28 hashes (the tables' entry numbers are 32-bit).</exception>
    public static MultiIndexHashIndex Build(ReadOnlySpan<PdqHash> hashes) => Build(hashes, null);

    /// <summary>Builds the index in <paramref name="reserved"/> memory when it has room (else in memory of its own).</summary>
    /// <exception cref="ArgumentOutOfRangeException">More than 2^28 hashes (the tables' entry numbers are 32-bit).</exception>
    public static MultiIndexHashIndex Build(ReadOnlySpan<PdqHash> hashes, Reservation? reserved)
    {
        int n = hashes.Length;
        ArgumentOutOfRangeException.ThrowIfGreaterThan(n, (int)(uint.MaxValue / WordCount) - 1, nameof(hashes));
        var index = new MultiIndexHashIndex(n, reserved);
        if (n == 0) return index;

        ulong* words = index._hashes;
        for (int i = 0; i < n; i++) hashes[i].CopyTo(new Span<ulong>(words + 4L * i, 4));

        // The 16 tables are independent: built in parallel (a 10M-hash index is ~3 GB of writes).
        Parallel.For(0, WordCount, t => index.BuildTable(t, n));
        return index;
    }

    private void BuildTable(int t, int n)
    {
        ulong* words = _hashes;
        var cursor = new uint[Buckets];
        uint* start = _starts + (long)t * StartsStride;
        new Span<uint>(start, StartsStride).Clear();
        int wordIndex = t >> 2, shift = (t & 3) * 16;
        for (int i = 0; i < n; i++) start[(int)((words[4L * i + wordIndex] >> shift) & 0xFFFF) + 1]++;
        start[0] = (uint)t * (uint)n;
        for (int b = 0; b < Buckets; b++) start[b + 1] += start[b];
        new Span<uint>(start, Buckets).CopyTo(cursor);
        int f1 = (wordIndex + 1) & 3, f2 = (wordIndex + 2) & 3;
        for (int i = 0; i < n; i++)
        {
            ulong* h = words + 4L * i;
            uint slot = cursor[(int)((h[wordIndex] >> shift) & 0xFFFF)]++;
            _entries[2L * slot] = h[f1];
            _entries[2L * slot + 1] = (uint)h[f2] | ((ulong)(uint)i << 32);
        }
        GC.KeepAlive(this);
    }

    /// <summary>Appends every indexed hash within <paramref name="maxDistance"/> of <paramref name="query"/> to
    /// <paramref name="hits"/> (each once, in no particular order).</summary>
    public void Search(PdqHash query, int maxDistance, List<IndexHit> hits)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxDistance);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxDistance, MaxSupportedDistance);
        ArgumentNullException.ThrowIfNull(hits);
        if (Count == 0) return;

        ulong* q = stackalloc ulong[4];
        query.CopyTo(new Span<ulong>(q, 4));
        int wordRadius = maxDistance / WordCount;
        int perTable = s_probesPerTable[wordRadius];
        int total = WordCount * perTable;

        // Every probe as an index into the bucket starts: table * StartsStride + word.
        int* keys = stackalloc int[total];
        fixed (ushort* masks = s_masks)
        {
            for (int t = 0, i = 0; t < WordCount; t++)
            {
                int word = (int)((q[t >> 2] >> ((t & 3) * 16)) & 0xFFFF);
                int tableBase = t * StartsStride;
                for (int j = 0; j < perTable; j++) keys[i++] = tableBase + (word ^ masks[j]);
            }
        }

        uint* starts = _starts;
        for (int i = 0; i < Math.Min(StartsAhead, total); i++) Prefetch(starts + keys[i]);
        for (int i = 0; i < Math.Min(BucketsAhead, total); i++) PrefetchBucket(keys[i]);

        int table = 0, probe = 0;
        ulong g1 = q[1], g2 = q[2];
        for (int i = 0; i < total; i++)
        {
            if (i + StartsAhead < total) Prefetch(starts + keys[i + StartsAhead]);
            if (i + BucketsAhead < total) PrefetchBucket(keys[i + BucketsAhead]);

            uint from = starts[keys[i]], to = starts[keys[i] + 1];
            if (from != to)
            {
                // The probe's word is `flips` bits from the query's: the filter may add at most the rest.
                int filterRadius = maxDistance - BitOperations.PopCount(s_masks[probe]);
                ulong* e = _entries + 2L * from, end = _entries + 2L * to;
                for (; e < end; e += 2)
                {
                    if (BitOperations.PopCount(e[0] ^ g1) + BitOperations.PopCount((uint)(e[1] ^ g2)) <= filterRadius)
                        Verify((int)(e[1] >> 32), q, table, maxDistance, wordRadius, hits);
                }
            }
            if (++probe == perTable && ++table < WordCount)
            {
                probe = 0;
                g1 = q[((table >> 2) + 1) & 3];
                g2 = q[((table >> 2) + 2) & 3];
            }
        }
        GC.KeepAlive(this);
    }

    private void Verify(int p, ulong* q, int table, int maxDistance, int wordRadius, List<IndexHit> hits)
    {
        ulong* h = _hashes + 4L * p;
        int distance = BitOperations.PopCount(h[0] ^ q[0]) + BitOperations.PopCount(h[1] ^ q[1])
            + BitOperations.PopCount(h[2] ^ q[2]) + BitOperations.PopCount(h[3] ^ q[3]);
        if (distance > maxDistance) return;
        // Reached through `table`: report it only if no earlier table would have reached it too.
        for (int t = 0; t < table; t++)
        {
            ulong diff = ((h[t >> 2] ^ q[t >> 2]) >> ((t & 3) * 16)) & 0xFFFF;
            if (BitOperations.PopCount(diff) <= wordRadius) return;
        }
        hits.Add(new IndexHit(p, distance));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void PrefetchBucket(int key)
    {
        uint from = _starts[key], to = _starts[key + 1];
        if (from == to) return;
        byte* line = (byte*)((nuint)(_entries + 2L * from) & ~(nuint)63);
        byte* end = (byte*)(_entries + 2L * to);
        for (; line < end; line += 64) Prefetch(line);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(void* address)
    {
        if (Sse.IsSupported) Sse.Prefetch0(address);
    }

    private static ushort[] BuildMasks()
    {
        var masks = new List<ushort> { 0 };
        for (int b = 0; b < 16; b++) masks.Add((ushort)(1 << b));
        for (int b1 = 0; b1 < 16; b1++)
            for (int b2 = b1 + 1; b2 < 16; b2++) masks.Add((ushort)((1 << b1) | (1 << b2)));
        return [.. masks];
    }
}
