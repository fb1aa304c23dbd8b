using Moderation.Streams.Text.Embeddings;

namespace Moderation.Streams.Text.Tests;

/// <summary>The sentence model shared by the meaning-bank tests (loading it takes a second or two).</summary>
public sealed class SentenceModelFixture : IAsyncDisposable
{
    public SentenceModelFixture()
    {
        Model = SentenceEmbedder.Load();
        Embedder = new BatchedTextEmbedder(Model, ownsEmbedder: false);
    }

    public SentenceEmbedder Model { get; }
    public BatchedTextEmbedder Embedder { get; }

    public async ValueTask DisposeAsync()
    {
        await Embedder.DisposeAsync();
        Model.Dispose();
    }
}

/// <summary>Meaning banks with the real all-MiniLM-L6-v2: paraphrases match, unrelated texts do not, thresholds hold.</summary>
public sealed class MeaningBankTests(SentenceModelFixture model) : IClassFixture<SentenceModelFixture>
{
    private const string ScamBank = """
        text,category,id
        Send me your bank login and I will double your money in a day,scam,double-money
        DM me to buy cheap pills without a prescription,drugs,pills
        You are worthless and everyone would be happier if you disappeared,harassment,worthless
        """;

    private async Task<MeaningBank> Bank(string csv, float threshold = MeaningBank.DefaultThreshold) =>
        await MeaningBank.BuildAsync("known", MeaningBank.Parse("known", new StringReader(csv)), threshold, model.Embedder,
            ct: TestContext.Current.CancellationToken);

    private async Task<float> Similarity(string a, string b)
    {
        var ct = TestContext.Current.CancellationToken;
        var va = await model.Embedder.EmbedAsync(a, ct);
        var vb = await model.Embedder.EmbedAsync(b, ct);
        return VectorMath.Dot(va, vb);
    }

    [Fact]
    public void Tokenizer_splits_like_bert_uncased()
    {
        var tokens = model.Model.Tokenizer;
        var ids = tokens.Encode("Hello, WORLD! Café");
        // [CLS] hello , world ! cafe [SEP]: accents stripped, punctuation apart, lower case; the ids are BERT uncased's.
        Assert.Equal([101, 7592, 1010, 2088, 999, 7668, 102], ids);
        Assert.Equal(tokens.Encode("hello , world ! cafe"), ids);
        Assert.Equal(256, tokens.Encode(string.Join(' ', Enumerable.Repeat("word", 1000))).Length);
    }

    [Fact]
    public async Task Embeddings_are_unit_vectors_and_identical_texts_are_identical()
    {
        var v = await model.Embedder.EmbedAsync("a short caption", TestContext.Current.CancellationToken);
        Assert.Equal(SentenceEmbedder.Dimensions, v.Length);
        Assert.Equal(1f, VectorMath.Dot(v, v), 3);
        Assert.Equal(1f, await Similarity("a short caption", "a short caption"), 3);
    }

    [Theory]
    [InlineData("DM me for cheap pills, no prescription needed", "pills")]
    [InlineData("give me your bank login and I'll double your money by tomorrow", "double-money")]
    [InlineData("you're worthless, everyone would be happier if you were gone", "worthless")]
    public async Task Near_paraphrases_match_their_entry(string text, string id)
    {
        var bank = await Bank(ScamBank);
        var hit = bank.Best(await model.Embedder.EmbedAsync(text, TestContext.Current.CancellationToken));
        Assert.NotNull(hit);
        Assert.Equal(id, hit.Value.Entry.Id);
        Assert.InRange(hit.Value.Similarity, MeaningBank.DefaultThreshold, 1f);
    }

    [Theory]
    [InlineData("Sunset over the lake with my dog")]
    [InlineData("Check out my new sourdough recipe")]
    [InlineData("My bank opened a new branch downtown")]
    [InlineData("The pharmacy is closed on Sundays")]
    public async Task Unrelated_texts_do_not_match(string text)
    {
        var bank = await Bank(ScamBank);
        Assert.Null(bank.Best(await model.Embedder.EmbedAsync(text, TestContext.Current.CancellationToken)));
    }

    [Fact]
    public async Task The_threshold_is_respected_on_both_sides()
    {
        const string text = "DM me for cheap pills, no prescription needed";
        float similarity = await Similarity(text, "DM me to buy cheap pills without a prescription");
        var below = await Bank(ScamBank, Math.Min(1f, similarity + 0.001f));
        var at = await Bank(ScamBank, similarity - 0.001f);
        var vector = await model.Embedder.EmbedAsync(text, TestContext.Current.CancellationToken);
        Assert.Null(below.Best(vector));
        Assert.Equal("pills", at.Best(vector)?.Entry.Id);
    }

    [Fact]
    public async Task The_matcher_reports_meaning_matches_with_similarity_and_the_whole_text()
    {
        var bank = await Bank(ScamBank);
        var terms = TermBank.Load("terms", new StringReader("pattern,category\npills,drugs\n"));
        var matcher = new TextMatcher([terms], [], [bank], model.Embedder);
        const string text = "DM me for cheap pills, no prescription needed";
        var matches = await matcher.MatchAsync(text, TestContext.Current.CancellationToken);
        var meaning = Assert.Single(matches, m => m.Kind == TextMatchKinds.Text);
        Assert.Equal(("known", "pills", "drugs", 0, text.Length), (meaning.Bank, meaning.Id, meaning.Category, meaning.Start, meaning.End));
        Assert.InRange(meaning.Similarity!.Value, MeaningBank.DefaultThreshold, 1f);
        Assert.Single(matches, m => m.Kind == TextMatchKinds.Term && m.Similarity is null);
        Assert.DoesNotContain(matcher.Match(text), m => m.Kind == TextMatchKinds.Text); // the synchronous path is terms and domains only
    }

    [Fact]
    public async Task Bank_texts_are_embedded_in_batches()
    {
        var rows = string.Join('\n', Enumerable.Range(0, 64).Select(i => $"known text number {i},spam,k{i}"));
        long batches = model.Embedder.Batches, texts = model.Embedder.Texts;
        var bank = await Bank(rows);
        Assert.Equal(64, bank.Entries.Count);
        Assert.Equal(64, model.Embedder.Texts - texts);
        Assert.True(model.Embedder.Batches - batches < 64, "64 texts submitted together ran as fewer model calls");
    }

    [Fact]
    public void Bad_rows_are_all_refused_at_once()
    {
        var e = Assert.Throws<TextBankException>(() => MeaningBank.Parse("b", new StringReader(
            "text,category\n,spam\nfine,spam\nonly one field\n" + new string('x', MeaningBank.MaxTextChars + 1) + ",spam\n")));
        Assert.Equal([2, 4, 5], e.Errors.Select(r => r.Line));
    }

    [Fact]
    public void Long_texts_get_a_hashed_id()
    {
        var text = new string('y', 300);
        var entry = Assert.Single(MeaningBank.Parse("b", new StringReader($"{text},spam\n")));
        Assert.Matches("^t-[0-9a-f]{16}$", entry.Id);
        Assert.Equal("short one", Assert.Single(MeaningBank.Parse("b", new StringReader("short one,spam\n"))).Id);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(1.01f)]
    [InlineData(float.NaN)]
    public async Task Thresholds_outside_zero_to_one_are_refused(float threshold)
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Bank(ScamBank, threshold));
    }
}
