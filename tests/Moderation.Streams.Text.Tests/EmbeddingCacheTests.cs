using Moderation.Streams.Text.Embeddings;

namespace Moderation.Streams.Text.Tests;

/// <summary>The vectors of repeated texts are kept: a caption seen again costs no model call, and the cache stays bounded.</summary>
public sealed class EmbeddingCacheTests(SentenceModelFixture model) : IClassFixture<SentenceModelFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_text_seen_again_is_answered_without_the_model_with_the_same_vector()
    {
        await using var embedder = new BatchedTextEmbedder(model.Model, ownsEmbedder: false);

        var first = await embedder.EmbedAsync("free crypto giveaway, send 1 BTC get 2 back", Ct);
        long texts = embedder.Texts;
        var again = await embedder.EmbedAsync("free crypto giveaway, send 1 BTC get 2 back", Ct);
        var other = await embedder.EmbedAsync("free crypto giveaway, send 1 BTC get 3 back", Ct);

        Assert.Same(first, again);
        Assert.Equal(1, embedder.CacheHits);
        Assert.Equal(texts + 1, embedder.Texts); // only the other text reached the model
        Assert.NotEqual(first, other);
    }

    [Fact]
    public async Task Without_a_cache_every_text_reaches_the_model_and_with_one_the_cache_stays_within_its_capacity()
    {
        await using (var none = new BatchedTextEmbedder(model.Model, ownsEmbedder: false, cacheEntries: 0))
        {
            await none.EmbedAsync("hello there", Ct);
            await none.EmbedAsync("hello there", Ct);
            Assert.Equal((0L, 2L, 0), (none.CacheHits, none.Texts, none.CachedTexts));
        }
        await using (var one = new BatchedTextEmbedder(model.Model, ownsEmbedder: false, cacheEntries: 1))
        {
            await one.EmbedAsync("a", Ct);
            await one.EmbedAsync("a", Ct);
            Assert.Equal(1, one.CacheHits);
        }
        await using var small = new BatchedTextEmbedder(model.Model, ownsEmbedder: false, cacheEntries: 3);
        for (int i = 0; i < 12; i++) await small.EmbedAsync($"caption number {i}", Ct);
        Assert.InRange(small.CachedTexts, 1, 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchedTextEmbedder(model.Model, ownsEmbedder: false, cacheEntries: -1));
    }
}
