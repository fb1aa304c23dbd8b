using Moderation.Streams.Hashing.Banks;

namespace Moderation.Streams.Hashing.Tests.Banks;

public sealed class MultiIndexHashIndexTests
{
    internal static PdqHash RandomHash(Random random)
    {
        Span<byte> bytes = stackalloc byte[32];
        random.NextBytes(bytes);
        return PdqHash.FromBytes(bytes);
    }

    internal static PdqHash FlipBits(PdqHash hash, IEnumerable<int> bits)
    {
        Span<ulong> w = stackalloc ulong[4];
        hash.CopyTo(w);
        foreach (var b in bits) w[b >> 6] ^= 1UL << (b & 63);
        return PdqHash.FromWords(w);
    }

    internal static PdqHash FlipRandomBits(PdqHash hash, int count, Random random) =>
        FlipBits(hash, Enumerable.Range(0, 256).OrderBy(_ => random.Next()).Take(count).ToList());

    /// <summary>20,000 random hashes plus, for each distance 0..40, near copies of query hashes: some spread
    /// evenly over the words (the pigeonhole's worst case: every word 1 or 2 bits away), some at random.</summary>
    private static (PdqHash[] Bank, List<PdqHash> Queries) Planted(int seed)
    {
        var random = new Random(seed);
        var bank = new List<PdqHash>();
        for (int i = 0; i < 20_000; i++) bank.Add(RandomHash(random));
        var queries = new List<PdqHash>();
        for (int d = 0; d <= 40; d++)
        {
            var query = RandomHash(random);
            queries.Add(query);
            bank.Add(FlipRandomBits(query, d, random));
            // Spread: bit k of word (k % 16) for k < d, so each word differs by d/16 or d/16 + 1 bits.
            bank.Add(FlipBits(query, Enumerable.Range(0, d).Select(k => (k % 16) * 16 + k / 16)));
        }
        for (int i = 0; i < 50; i++) queries.Add(RandomHash(random));
        return ([.. bank.OrderBy(_ => random.Next())], queries);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(31)]
    [InlineData(32)]
    [InlineData(47)]
    public void The_index_finds_exactly_what_a_linear_scan_finds(int maxDistance)
    {
        var (bank, queries) = Planted(seed: maxDistance);
        var index = MultiIndexHashIndex.Build(bank);
        var brute = new BruteForceSearch(bank);
        var found = new List<IndexHit>();
        var expected = new List<IndexHit>();
        var scalar = new List<IndexHit>();
        var wide = new List<IndexHit>();
        int planted = 0;
        foreach (var query in queries)
        {
            found.Clear();
            expected.Clear();
            scalar.Clear();
            index.Search(query, maxDistance, found);
            brute.Search(query, maxDistance, expected);
            brute.Search(query, maxDistance, scalar, simd: false);
            wide.Clear();
            brute.Search(query, maxDistance, wide, BruteForceKernel.Avx512);

            Assert.Equal(expected, scalar);
            Assert.Equal(expected, wide);
            Assert.Equal(expected, found.OrderBy(h => h.Position));
            planted += expected.Count;
        }
        // Two planted copies per distance up to the radius: the comparison above was not vacuous.
        Assert.Equal(2 * (Math.Min(maxDistance, 40) + 1), planted);
    }

    [Fact]
    public void An_index_built_in_reserved_memory_finds_what_a_linear_scan_finds_and_a_small_reservation_is_not_used()
    {
        var (bank, queries) = Planted(seed: 77);
        var roomy = MultiIndexHashIndex.Reserve(bank.Length + 500);
        var index = MultiIndexHashIndex.Build(bank, roomy);
        Assert.Equal(bank.Length + 500, roomy.Capacity);
        // Taken: a second index cannot be built in the same memory.
        var other = MultiIndexHashIndex.Build(bank, roomy);
        var small = MultiIndexHashIndex.Build(bank, MultiIndexHashIndex.Reserve(bank.Length - 1));
        var brute = new BruteForceSearch(bank);
        Assert.True(index.MemoryBytes > other.MemoryBytes); // the reserved block, with room for 500 more
        Assert.Equal(other.MemoryBytes, small.MemoryBytes);
        var expected = new List<IndexHit>();
        int planted = 0;
        foreach (var query in queries)
        {
            expected.Clear();
            brute.Search(query, 31, expected);
            foreach (var built in new[] { index, other, small })
            {
                var found = new List<IndexHit>();
                built.Search(query, 31, found);
                Assert.Equal(expected, found.OrderBy(h => h.Position));
            }
            planted += expected.Count;
        }
        Assert.Equal(64, planted);
        Assert.Equal(bank[^1], index[bank.Length - 1]);
    }

    [Fact]
    public void A_hash_near_the_query_in_several_words_is_reported_once()
    {
        var random = new Random(3);
        var query = RandomHash(random);
        var index = MultiIndexHashIndex.Build([query, FlipBits(query, [0, 100]), RandomHash(random)]);
        var hits = new List<IndexHit>();
        index.Search(query, 31, hits);
        Assert.Equal([new IndexHit(0, 0), new IndexHit(1, 2)], hits.OrderBy(h => h.Position));
    }

    [Fact]
    public void An_empty_index_finds_nothing_and_a_radius_beyond_the_tables_is_refused()
    {
        var index = MultiIndexHashIndex.Build([]);
        var hits = new List<IndexHit>();
        index.Search(PdqHash.Zero, 31, hits);
        Assert.Empty(hits);
        Assert.Throws<ArgumentOutOfRangeException>(() => index.Search(PdqHash.Zero, MultiIndexHashIndex.MaxSupportedDistance + 1, hits));
    }

    /// <summary>Hashes whose words take only a few values, so buckets hold hundreds or thousands of entries:
    /// long sequential scans, buckets shared by many probes, many hashes near each other.</summary>
    [Theory]
    [InlineData(15)]
    [InlineData(31)]
    [InlineData(47)]
    public void Crowded_buckets_still_give_exactly_what_a_linear_scan_gives(int maxDistance)
    {
        var random = new Random(maxDistance + 100);
        ushort[] vocabulary = [0x0000, 0x0001, 0x0002, 0x0003, 0x0100, 0x8000];
        PdqHash Crowded()
        {
            var w = new ulong[4];
            for (int word = 0; word < 16; word++)
            {
                ulong v = vocabulary[random.Next(vocabulary.Length)];
                if (random.Next(8) == 0) v ^= 1UL << random.Next(16);
                w[word >> 2] |= v << ((word & 3) * 16);
            }
            return PdqHash.FromWords(w);
        }
        var bank = new PdqHash[6001]; // odd: one hash left over after the AVX-512 kernel's pairs
        for (int i = 0; i < bank.Length; i++) bank[i] = Crowded();
        var index = MultiIndexHashIndex.Build(bank);
        var brute = new BruteForceSearch(bank);
        var found = new List<IndexHit>();
        var expected = new List<IndexHit>();
        long matches = 0;
        for (int k = 0; k < 60; k++)
        {
            var query = k % 2 == 0 ? Crowded() : FlipRandomBits(bank[random.Next(bank.Length)], random.Next(maxDistance + 1), random);
            found.Clear();
            expected.Clear();
            index.Search(query, maxDistance, found);
            brute.Search(query, maxDistance, expected);
            Assert.Equal(expected, found.OrderBy(h => h.Position));
            var scalar = new List<IndexHit>();
            brute.Search(query, maxDistance, scalar, BruteForceKernel.Scalar);
            var wide = new List<IndexHit>();
            brute.Search(query, maxDistance, wide, BruteForceKernel.Avx512);
            Assert.Equal(scalar, expected);
            Assert.Equal(scalar, wide);
            matches += expected.Count;
        }
        Assert.True(matches > 300, $"only {matches} matches: the comparison says little");
    }

    [Fact]
    public void Threads_searching_one_index_at_once_each_get_a_linear_scans_results()
    {
        var (bank, queries) = Planted(seed: 7);
        var index = MultiIndexHashIndex.Build(bank);
        var brute = new BruteForceSearch(bank);
        var expected = queries.Select(q =>
        {
            var hits = new List<IndexHit>();
            brute.Search(q, 31, hits);
            return hits;
        }).ToArray();
        Assert.Equal(2 * 32, expected.Sum(e => e.Count));
        Parallel.For(0, 4, _ =>
        {
            var hits = new List<IndexHit>();
            for (int round = 0; round < 20; round++)
                for (int k = 0; k < queries.Count; k++)
                {
                    hits.Clear();
                    index.Search(queries[k], 31, hits);
                    Assert.Equal(expected[k], hits.OrderBy(h => h.Position));
                }
        });
    }

    [Fact]
    public void The_index_keeps_the_hashes_in_the_order_given_and_frees_dropped_indexes()
    {
        var random = new Random(11);
        var bank = Enumerable.Range(0, 3000).Select(_ => RandomHash(random)).ToArray();
        var index = MultiIndexHashIndex.Build(bank);
        Assert.Equal(bank.Length, index.Count);
        for (int i = 0; i < bank.Length; i++) Assert.Equal(bank[i], index[i]);
        Assert.Throws<ArgumentOutOfRangeException>(() => index[bank.Length]);
        Assert.Throws<ArgumentOutOfRangeException>(() => index[-1]);
        Assert.True(index.MemoryBytes >= bank.Length * (32L + 16 * 16));

        // Indexes replaced by newer ones give their native memory back when collected; the live one is intact.
        for (int i = 0; i < 20; i++) _ = MultiIndexHashIndex.Build(bank.AsSpan(0, 1000 + i));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var hits = new List<IndexHit>();
        index.Search(bank[1234], 0, hits);
        Assert.Equal([new IndexHit(1234, 0)], hits);
    }
}
