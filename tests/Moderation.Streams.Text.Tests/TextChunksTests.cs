namespace Moderation.Streams.Text.Tests;

/// <summary>Long texts are also read in chunks of whole sentences, so padding cannot dilute a known text away.</summary>
public sealed class TextChunksTests(SentenceModelFixture model) : IClassFixture<SentenceModelFixture>
{
    private const string Scam = "Send me your bank login and I will double your money in a day";

    private static readonly string Padding = string.Concat(Enumerable.Repeat(
        "What a lovely morning at the beach with all my friends and family, the weather was perfect and the food was great. ", 8));

    [Fact]
    public void A_short_text_has_no_chunks_and_a_long_one_is_cut_at_sentence_ends_within_the_limit()
    {
        Assert.Empty(TextChunks.Split(Scam));
        Assert.Empty(TextChunks.Split(new string('a', TextChunks.MaxChars)));

        string text = Padding + Scam + ". " + Padding;
        var chunks = TextChunks.Split(text);

        Assert.True(chunks.Count >= 4, $"{chunks.Count} chunks");
        Assert.All(chunks, c =>
        {
            Assert.InRange(c.End - c.Start, 1, TextChunks.MaxChars);
            Assert.False(char.IsWhiteSpace(text[c.Start]) || char.IsWhiteSpace(text[c.End - 1]));
        });
        Assert.Equal(chunks.OrderBy(c => c.Start), chunks);                  // in order, never overlapping
        Assert.All(chunks.Zip(chunks.Skip(1)), p => Assert.True(p.First.End <= p.Second.Start));
        Assert.Contains(chunks, c => text[c.Start..c.End] == Scam + ".");   // a sentence of its own
        Assert.Equal(["Wow! Send me your bank login and I will double your money in a day."],
            TextChunks.Split(Padding + "Wow! " + Scam + ". ").Select(c => (Padding + "Wow! " + Scam + ". ")[c.Start..c.End]).Where(c => c.Contains("Wow", StringComparison.Ordinal)));
    }

    [Fact]
    public void A_sentence_longer_than_the_limit_is_cut_at_spaces_or_hard_and_the_chunks_are_capped()
    {
        string words = string.Join(' ', Enumerable.Repeat("word", 200));            // one 999-character sentence
        Assert.All(TextChunks.Split(words), c => Assert.InRange(c.End - c.Start, 1, TextChunks.MaxChars));
        string solid = new('x', 1000);
        Assert.Equal(4, TextChunks.Split(solid).Count);
        // Tiny sentences are read together, in bigger chunks the more there are: all of a 10,000-character text item
        // is read, within the cap.
        string tiny = string.Concat(Enumerable.Repeat("a. ", 3_333)) + "Send me your bank login.";
        var chunks = TextChunks.Split(tiny);
        Assert.InRange(chunks.Count, 1, TextChunks.MaxChunks);
        Assert.EndsWith("Send me your bank login.", tiny[chunks[^1].Start..chunks[^1].End], StringComparison.Ordinal);
        Assert.Equal(TextChunks.MaxChunks, TextChunks.Split(string.Concat(Enumerable.Repeat("A sentence. ", 10_000))).Count); // 120,000 characters
    }

    [Theory]
    [InlineData("Ѕеnd mе уоur bаnk lоgіn аnd І wіll dоublе уоur mоnеу іn а dау")]               // Cyrillic look-alikes
    [InlineData("Send\u200B me your b\u200Dank lo\u200Cgin and I will dou\u00ADble your money in a day")] // invisible characters
    [InlineData("Ｓｅｎｄ ｍｅ ｙｏｕｒ ｂａｎｋ ｌｏｇｉｎ and I will double your money in a day")]         // fullwidth
    [InlineData("𝐒𝐞𝐧𝐝 𝐦𝐞 your bank login and I will double your money in a day")]                 // mathematical bold
    public async Task A_known_text_in_look_alike_or_invisible_characters_is_still_matched(string disguised)
    {
        var ct = TestContext.Current.CancellationToken;
        var bank = await MeaningBank.BuildAsync("known", MeaningBank.Parse("known", new StringReader($"text,category,id\n{Scam},scam,double\n")),
            MeaningBank.DefaultThreshold, model.Embedder, ct: ct);

        var match = Assert.Single(await new TextMatcher([], [], [bank], model.Embedder).MatchAsync(disguised, ct));

        Assert.Equal("double", match.Id);
        Assert.True(match.Similarity >= 0.9f, $"similarity {match.Similarity}"); // Cyrillic І reads l, as TR39 says: 0.93
    }

    [Fact]
    public async Task A_known_text_padded_with_chatter_is_still_matched()
    {
        var ct = TestContext.Current.CancellationToken;
        var bank = await MeaningBank.BuildAsync("known", MeaningBank.Parse("known", new StringReader($"text,category,id\n{Scam},scam,double\n")),
            MeaningBank.DefaultThreshold, model.Embedder, ct: ct);
        string padded = Padding + Scam + ". " + Padding;

        // The dilution is real: the whole text's vector alone is far from the bank text…
        var whole = await model.Embedder.EmbedAsync(padded, ct);
        Assert.Null(bank.Best(whole));
        // …and the matcher still finds it, through the chunk that holds it, reported over the whole text.
        var match = Assert.Single(await new TextMatcher([], [], [bank], model.Embedder).MatchAsync(padded, ct));
        Assert.Equal(("double", 0, padded.Length), (match.Id, match.Start, match.End));
        Assert.True(match.Similarity >= 0.9f, $"similarity {match.Similarity}");
        // Chatter alone matches nothing.
        Assert.Empty(await new TextMatcher([], [], [bank], model.Embedder).MatchAsync(Padding + Padding, ct));
    }
}
