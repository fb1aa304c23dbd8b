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
        int planted = 0;
        foreach (var query in queries)
        {
            found.Clear();
            expected.Clear();
            scalar.Clear();
            index.Search(query, maxDistance, found);
            brute.Search(query, maxDistance, expected);
            brute.Search(query, maxDistance, scalar, simd: false);

            Assert.Equal(expected, scalar);
            Assert.Equal(expected, found.OrderBy(h => h.Position));
            planted += expected.Count;
        }
        // Two planted copies per distance up to the radius: the comparison above was not vacuous.
        Assert.Equal(2 * (Math.Min(maxDistance, 40) + 1), planted);
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
}
