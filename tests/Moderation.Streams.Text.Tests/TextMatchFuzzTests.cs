using CsCheck;

namespace Moderation.Streams.Text.Tests;

/// <summary>
/// Properties over generated texts: matching never throws on any UTF-16 (lone surrogates, controls, bidi and format
/// characters), every span lies inside the text and never splits a surrogate pair; and invisible characters or case
/// changes added to a text never change what is found.
/// </summary>
public sealed class TextMatchFuzzTests
{
    private static readonly TextMatcher Matcher = new(
        [Banks.Terms("scam,scam,t1\nfree money,spam,t2\nsca,x,s1,substring\n\"m[o0]ney+\",x,r1,regex\n")],
        [Banks.Domains("bad.example,phishing,d1\n")]);

    private static readonly string[] Pieces =
    [
        "scam", "SCAM", "5c4m", "s.c.a.m", "s c a m", "scampi", "free", "money", "fr33", "a", " ", ".", "-", "!", "@", "$",
        "bad.example", "bad[.]example", " dot ", "hxxp://", "www.", "𝐬", "ѕ", "é", "\u0301", "\u200B", "\u202E", "\uFEFF",
        "\uD800", "\uDC00", "\u0000", "\r\n", "\u2028", "ｆｒｅｅ", "ß", "ﬁ", "ⓢ", "aaaa", "1", "l", "|", "。",
        "%61", "%C3%A4", "%2E", "%2e", "%", "%F0%9F", "%ZZ", "ꓢ", "\U000118E3", "ΒΑD", " . ", "\\.", "!!!", "+",
    ];

    [Fact]
    public void Any_text_is_matched_without_throwing_and_spans_are_whole_code_points_inside_it()
    {
        Gen.Int[0, Pieces.Length - 1].Array[0, 40].Select(Gen.Char.Array[0, 8]).Sample((picks, noise) =>
        {
            string text = string.Concat(picks.Select(i => Pieces[i])) + new string(noise);
            foreach (var m in Matcher.Match(text))
            {
                Assert.InRange(m.Start, 0, text.Length - 1);
                Assert.InRange(m.End, m.Start + 1, text.Length);
                Assert.False(m.Start > 0 && char.IsLowSurrogate(text[m.Start]) && char.IsHighSurrogate(text[m.Start - 1]), "start splits a pair");
                Assert.False(m.End < text.Length && char.IsLowSurrogate(text[m.End]) && char.IsHighSurrogate(text[m.End - 1]), "end splits a pair");
            }
        }, iter: 5_000);
    }

    /// <summary>Zero-width space, joiner and non-joiner, BOM, word joiner, soft hyphen, Mongolian vowel separator,
    /// combining grapheme joiner, a variation selector, bidi isolates and a left-to-right override. (A right-to-left
    /// override is not invisible: it reverses what follows; see the next property.)</summary>
    private static readonly string[] Invisible =
        ["\u200B", "\u200C", "\u200D", "\uFEFF", "\u2060", "\u00AD", "\u180E", "\u034F", "\uFE0F", "\u2066", "\u202D", "\u2069"];

    private static readonly string[] Words = ["scam", "scampi", "free", "money", "hello", "bad.example", "good", "a", "s c a m", "m0ney"];

    [Fact]
    public void Invisible_characters_and_case_never_change_what_is_found()
    {
        Gen.Int[0, Words.Length - 1].Array[1, 12].Select(Gen.Int.Array[0, 10], Gen.Bool.Array[64]).Sample((picks, positions, upper) =>
        {
            string text = string.Join(' ', picks.Select(i => Words[i]));
            var disguised = new System.Text.StringBuilder();
            for (int i = 0; i < text.Length; i++)
            {
                foreach (int p in positions)
                    if ((uint)p % (uint)text.Length == i) disguised.Append(Invisible[(uint)p % (uint)Invisible.Length]);
                disguised.Append(upper[i % upper.Length] ? char.ToUpperInvariant(text[i]) : text[i]);
            }

            Assert.Equal(Found(text), Found(disguised.ToString()));
        }, iter: 3_000);

        static List<string> Found(string text) => [.. Matcher.Match(text).Select(m => $"{m.Kind}:{m.Id}").Order(StringComparer.Ordinal)];
    }

    [Fact]
    public void A_right_to_left_override_never_hides_what_the_stored_order_shows_and_spans_stay_inside()
    {
        Gen.Int[0, Words.Length - 1].Array[1, 12].Select(Gen.Int[0, 200], Gen.Bool).Sample((picks, at, close) =>
        {
            string text = string.Join(' ', picks.Select(i => Words[i]));
            int cut = at % (text.Length + 1);
            // The override goes in at a word boundary (inside a word it would change the word as stored too).
            while (cut > 0 && cut < text.Length && text[cut - 1] != ' ') cut--;
            string overridden = text[..cut] + "\u202E" + text[cut..] + (close ? "\u202C" : "");

            var plain = Matcher.Match(text).Select(m => $"{m.Kind}:{m.Id}").ToList();
            var drawn = Matcher.Match(overridden);
            Assert.All(plain, found => Assert.Contains(found, drawn.Select(m => $"{m.Kind}:{m.Id}")));
            Assert.All(drawn, m => Assert.True(m.Start >= 0 && m.End <= overridden.Length && m.Start < m.End, $"{m.Start}..{m.End} in {overridden.Length}"));
        }, iter: 2_000);
    }
}
