using Moderation.Streams.Redis.Banks;
using Moderation.Streams.Redis.TextBanks;
using Moderation.Streams.Redis.Tests.Servers;
using Moderation.Streams.Text;
using Moderation.Streams.Text.Embeddings;

namespace Moderation.Streams.Redis.Tests.TextBanks;

/// <summary>Meaning (<c>texts</c>) banks in a real redis-server, with a bag-of-words embedder standing in for the sentence
/// model (the real model is tested in Text.Tests and through the worker): thresholds are kept per bank, a reload embeds
/// only new texts, and without an embedder a stored texts bank does not load (texts fail closed).</summary>
public sealed class RedisMeaningBankTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Unit bag-of-words vectors over the words it has seen (at most 64); counts the texts it embeds.</summary>
    private sealed class WordsEmbedder : ITextEmbedder
    {
        private readonly Dictionary<string, int> _words = [];
        public int Calls;

        public string Model => "words";

        public Task<float[]> EmbedAsync(string text, CancellationToken ct = default)
        {
            Interlocked.Increment(ref Calls);
            var v = new float[64];
            lock (_words)
                foreach (var w in text.ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    if (!_words.TryGetValue(w, out int i)) _words[w] = i = _words.Count % 64;
                    v[i] += 1;
                }
            VectorMath.Normalize(v);
            return Task.FromResult(v);
        }
    }

    [Fact]
    public async Task A_texts_bank_keeps_its_threshold_loads_with_an_embedder_and_reuses_vectors_on_reload()
    {
        await using var server = await RedisServerProcess.StartAsync(Ct);
        await using var redis = await RedisConnector.ConnectAsync(server.Configuration);
        var store = new RedisTextBankStore(redis);
        await store.ImportAsync("known", TextBankKinds.Texts, new StringReader("text,category,id\nsend me your bank login now,scam,k-1\nbuy cheap pills here,drugs,k-2\n"));
        Assert.Equal(MeaningBank.DefaultThreshold, await store.ThresholdAsync("known"));
        await store.ImportAsync("known", TextBankKinds.Texts, new StringReader("free money for you,scam,k-3\n"), threshold: 0.9f);
        Assert.Equal(0.9f, (await store.ListAsync()).Single().Threshold);
        Assert.StartsWith("text,category,id\n\"send me your bank login now\",\"scam\",\"k-1\"", await store.ExportAsync("known"));

        var embedder = new WordsEmbedder();
        var (matcher, versions) = await store.LoadAsync(embedder, null, Ct);
        Assert.Equal(2, versions["known"]);
        Assert.Equal(3, embedder.Calls);
        var bank = Assert.Single(matcher.MeaningBanks);
        Assert.Equal(0.9f, bank.Threshold);
        var hit = Assert.Single(await matcher.MatchAsync("send me your bank login now", Ct));
        Assert.Equal((TextMatchKinds.Text, "known", "k-1", "scam"), (hit.Kind, hit.Bank, hit.Id, hit.Category));
        Assert.Equal(1f, hit.Similarity!.Value, 3);
        Assert.Empty(await matcher.MatchAsync("send me your bank", Ct)); // cosine 4/√24 ≈ 0.82 < 0.9

        await store.ImportAsync("known", TextBankKinds.Texts, new StringReader("wire the fee today,scam,k-4\n"));
        int before = embedder.Calls;
        var (reloaded, _) = await store.LoadAsync(embedder, matcher, Ct);
        Assert.Equal(4, Assert.Single(reloaded.MeaningBanks).Entries.Count);
        Assert.Equal(1, embedder.Calls - before); // only the new text was embedded
        Assert.Equal(0.9f, reloaded.MeaningBanks[0].Threshold); // an import without --threshold keeps the bank's
    }

    [Fact]
    public async Task A_running_matcher_loads_again_only_the_bank_that_changed_and_embeds_only_its_new_texts()
    {
        await using var server = await RedisServerProcess.StartAsync(Ct);
        await using var redis = await RedisConnector.ConnectAsync(server.Configuration);
        var store = new RedisTextBankStore(redis);
        await store.ImportAsync("known", TextBankKinds.Texts, new StringReader("send me your bank login now,scam,k-1\nbuy cheap pills here,drugs,k-2\n"));
        await store.ImportAsync("scams", TextBankKinds.Terms, new StringReader("giveaway,scam,t-1\n"));
        var embedder = new WordsEmbedder();
        await using var matcher = new TextBankMatcher(redis, store, new BankMatcherOptions { RefreshInterval = TimeSpan.FromHours(1), FullReloadInterval = TimeSpan.FromHours(1), MaxStaleness = TimeSpan.FromHours(2) },
            embedder: embedder);
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Equal(2, embedder.Calls);
        var known = matcher.Banks["known"];

        await store.ImportAsync("scams", TextBankKinds.Terms, new StringReader("free crypto,scam,t-2\n"));
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Same(known, matcher.Banks["known"]); // the meaning bank was not loaded again
        Assert.Equal(2, embedder.Calls);
        Assert.Equal(["t-2"], matcher.Current!.Match("free crypto").Select(m => m.Id));
        Assert.Equal(["k-1"], (await matcher.Current.MatchAsync("send me your bank login now", Ct)).Select(m => m.Id));

        var scams = matcher.Banks["scams"];
        await store.ImportAsync("known", TextBankKinds.Texts, new StringReader("wire the fee today,scam,k-3\n"));
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Same(scams, matcher.Banks["scams"]);
        Assert.Equal(3 + 1, embedder.Calls); // the new text, and the caption matched above
        Assert.Equal(3, matcher.Banks["known"].Meanings!.Entries.Count);
        Assert.Equal(new Dictionary<string, long> { ["known"] = 2, ["scams"] = 2 }, matcher.Versions);
    }

    [Fact]
    public async Task Without_an_embedder_a_stored_texts_bank_does_not_load_and_bad_thresholds_are_refused()
    {
        await using var server = await RedisServerProcess.StartAsync(Ct);
        await using var redis = await RedisConnector.ConnectAsync(server.Configuration);
        var store = new RedisTextBankStore(redis);
        await Assert.ThrowsAsync<ArgumentException>(() => store.ImportAsync("known", TextBankKinds.Texts, new StringReader("a,b\n"), threshold: 1.5f));
        await Assert.ThrowsAsync<ArgumentException>(() => store.ImportAsync("terms", TextBankKinds.Terms, new StringReader("a,b\n"), threshold: 0.5f));
        await Assert.ThrowsAsync<TextBankException>(() => store.ImportAsync("known", TextBankKinds.Texts, new StringReader(",b\n")));
        Assert.Empty(await store.ListAsync());

        await store.ImportAsync("known", TextBankKinds.Texts, new StringReader("a known text,scam\n"));
        var e = await Assert.ThrowsAsync<TextBankException>(() => store.LoadAsync(Ct));
        Assert.Equal("known", e.Bank);
        await store.DeleteAsync("known");
        Assert.Equal(MeaningBank.DefaultThreshold, await store.ThresholdAsync("known"));
        Assert.Equal(0, (await store.LoadAsync(Ct)).Matcher.BankCount);
    }
}
