namespace Moderation.Streams.Text.Tests;

/// <summary>
/// Every evasion DESIGN.md lists for terms is a row here: the word <c>scam</c> (bank <c>fraud</c>, mode <c>word</c>)
/// hidden in a text must be found, and its span must be exactly the characters of the original text that spell it.
/// </summary>
public sealed class TermEvasionTests
{
    private static readonly TermBank Fraud = Banks.Terms("pattern,category,id,mode\nscam,scam,t1\nfree money,scam,t2\n", "fraud");

    // text, the part of the text that must be reported (start..end), which entry
    public static TheoryData<string, string, string> Evasions => new()
    {
        { "this is a scam, friends", "scam", "t1" },
        { "THIS IS A SCAM", "SCAM", "t1" },
        { "a ＳＣＡＭ here", "ＳＣＡＭ", "t1" },                         // fullwidth (NFKC)
        { "a ｓｃａｍ here", "ｓｃａｍ", "t1" },
        { "𝐬𝐜𝐚𝐦 alert", "𝐬𝐜𝐚𝐦", "t1" },                               // mathematical bold (surrogate pairs)
        { "ⓢⓒⓐⓜ alert", "ⓢⓒⓐⓜ", "t1" },                              // circled letters
        { "a scàm here", "scàm", "t1" },                                // precomposed diacritic
        { "a sca\u0301m here", "sca\u0301m", "t1" },                    // combining diacritic
        { "a ѕсаm here", "ѕсаm", "t1" },                                // Cyrillic dze, es, a
        { "a SCΑM here", "SCΑM", "t1" },                                // Greek capital alpha
        { "a s\u200Bc\u200Ca\u200Dm here", "s\u200Bc\u200Ca\u200Dm", "t1" }, // zero-width space / non-joiner / joiner
        { "a s\u00ADc\u2060am here", "s\u00ADc\u2060am", "t1" },        // soft hyphen, word joiner
        { "a \u202Escam\u202C here", "scam", "t1" },                    // bidi override around the word
        { "a 5c4m here", "5c4m", "t1" },                                // leet digits
        { "a $c@m here", "$c@m", "t1" },                                // leet symbols
        { "a s.c.a.m here", "s.c.a.m", "t1" },                          // one repeated separator
        { "a s c a m here", "s c a m", "t1" },
        { "a s-c-a-m here", "s-c-a-m", "t1" },
        { "a s _ c _ a _ m here", "s _ c _ a _ m", "t1" },
        { "a scaaaaam here", "scaaaaam", "t1" },                        // a letter repeated 3+ times
        { "a ssssccccaaaammmm here", "ssssccccaaaammmm", "t1" },
        { "a 5.c.@.m here", "5.c.@.m", "t1" },                          // leet and separators together
        { "scam", "scam", "t1" },
        { "(scam!)", "scam", "t1" },
        { "get FREE   MONEY now", "FREE   MONEY", "t2" },               // phrase, any spacing
        { "get fr33 m0n3y now", "fr33 m0n3y", "t2" },
        { "get ｆｒｅｅ-ｍｏｎｅｙ now", "ｆｒｅｅ-ｍｏｎｅｙ", "t2" },
        { "get freeeee money now", "freeeee money", "t2" },
        { "what a scam!!! wow", "scam", "t1" },                         // emphasis after the word is not leetspeak
        { "a scam||| here", "scam", "t1" },
        { "a s!c!a!m here", "s!c!a!m", "t1" },                          // ! as the repeated separator, not as i
        { "a ˢᶜᵃᵐ here", "ˢᶜᵃᵐ", "t1" },                                // modifier (superscript) letters
        { "a s🔥c🔥a🔥m here", "s🔥c🔥a🔥m", "t1" },                     // an emoji as the separator
        { "a ꓢꓚꓮꓟ here", "ꓢꓚꓮꓟ", "t1" },                              // Lisu look-alikes (Unicode's confusables)
        { "a 🅢🅒🅐🅜 here", "🅢🅒🅐🅜", "t1" },                              // negative circled letters
        { "a \u202Emacs\u202C here", "macs", "t1" },                    // right-to-left override: stored macs, drawn scam
        { "a \u202Emac\uD835\uDC2C\u202C here", "mac\uD835\uDC2C", "t1" }, // …with a surrogate pair kept whole
        { "a s\u0336c\u0336a\u0336m\u0336 here", "s\u0336c\u0336a\u0336m", "t1" },   // strikethrough marks (the span ends at the last letter)
    };

    [Theory]
    [MemberData(nameof(Evasions))]
    public void A_listed_evasion_is_matched_with_the_offsets_of_the_original_text(string text, string spelled, string id)
    {
        var match = Assert.Single(Banks.Match(text, Fraud), m => m.Id == id);

        int start = text.IndexOf(spelled, StringComparison.Ordinal);
        Assert.True(start >= 0);
        Assert.Equal(TextMatchKinds.Term, match.Kind);
        Assert.Equal("fraud", match.Bank);
        Assert.Equal("scam", match.Category);
        Assert.Equal(spelled, text[match.Start..match.End]);
        Assert.Equal(start, match.Start);
        Assert.Equal(start + spelled.Length, match.End);
    }

    [Theory]
    [InlineData("scampi for dinner")]
    [InlineData("the scammer")]
    [InlineData("antiscam")]
    [InlineData("s.c.a.m.p.i")]
    [InlineData("scum")]
    [InlineData("free moneyball")]
    [InlineData("money free")]
    [InlineData("sc am")]
    public void Word_mode_never_matches_inside_a_longer_word_or_a_different_word(string text)
    {
        Assert.Empty(Banks.Match(text, Fraud));
    }

    [Fact]
    public void A_single_bang_or_bar_between_letters_is_an_i_but_a_run_of_them_is_punctuation()
    {
        var bank = Banks.Terms("shit,profanity,p1\nclick,spam,c1\n");

        Assert.Equal("sh!t", Assert.Single(Banks.Match("oh sh!t no", bank)) is var m ? "oh sh!t no"[m.Start..m.End] : null);
        Assert.Equal("cl|ck", Assert.Single(Banks.Match("cl|ck here", bank)) is var n ? "cl|ck here"[n.Start..n.End] : null);
        Assert.Empty(Banks.Match("sh!!t", bank));
        Assert.Empty(Banks.Match("c++ and c##", Banks.Terms("ct,x\n")));
    }

    [Fact]
    public void An_override_ends_at_its_pdf_or_the_line_and_text_outside_it_reads_as_stored()
    {
        Assert.Empty(Banks.Match("\u202Ema\u202Ccs", Fraud));                  // only "ma" is drawn reversed: "am" + "cs"
        Assert.Empty(Banks.Match("\u202Eab\nmacs", Fraud));                   // the line ended the override
        var both = Banks.Match("scam and \u202Emacs", Fraud);                  // as stored and as drawn: one match each
        Assert.Equal([(0, 4), (10, 14)], both.Select(m => (m.Start, m.End)));
        Assert.Empty(Banks.Match("macs", Fraud));                               // no override: drawn as stored
    }

    [Fact]
    public void Scunthorpe_style_inner_words_match_only_in_substring_mode()
    {
        var word = Banks.Terms("cunt,profanity\n");
        var substring = Banks.Terms("cunt,profanity,p1,substring\n");

        Assert.Empty(Banks.Match("I live in Scunthorpe", word));
        var inner = Assert.Single(Banks.Match("I live in Scunthorpe", substring));
        Assert.Equal("cunt", "I live in Scunthorpe"[inner.Start..inner.End]);
    }

    [Theory]
    [InlineData("ssca", 1, 4)]        // a longer first run: only its last letter
    [InlineData("scaa", 0, 3)]        // a longer last run: only its first letter
    [InlineData("xscaaaay", 1, 7)]    // a letter repeated for evasion: the whole run
    [InlineData("x5c4y", 1, 4)]
    [InlineData("xs.c.a", -1, -1)]    // joined chains are words of their own: "xs" is not a single letter
    public void Substring_terms_report_the_letters_they_cover(string text, int start, int end)
    {
        var bank = Banks.Terms("sca,x,s1,substring\n");

        var matches = Banks.Match(text, bank);

        if (start < 0) Assert.Empty(matches);
        else Assert.Equal((start, end), (Assert.Single(matches).Start, Assert.Single(matches).End));
    }

    [Fact]
    public void Doubled_letters_are_not_repetition_so_good_is_not_god_but_gooood_is_both()
    {
        var god = Banks.Terms("god,x\n");
        var good = Banks.Terms("good,x\n");

        Assert.Empty(Banks.Match("a good day", god));
        Assert.Single(Banks.Match("a good day", good));
        Assert.Single(Banks.Match("a gooood day", god));
        Assert.Single(Banks.Match("a gooood day", good));
    }

    [Fact]
    public void Every_occurrence_is_reported_in_order()
    {
        var matches = Banks.Match("scam, SCAM and s.c.a.m", Fraud);

        Assert.Equal([(0, 4), (6, 10), (15, 22)], matches.Select(m => (m.Start, m.End)));
    }

    [Fact]
    public void Russian_text_is_not_transliterated_but_russian_terms_match_it()
    {
        var russian = Banks.Terms("мошенник,scam\n");

        Assert.Single(Banks.Match("Это МОШЕННИК!", russian));
        Assert.Empty(Banks.Match("Это мошенники", russian));
    }

    [Fact]
    public void Regex_terms_run_on_the_folded_text_and_report_original_offsets()
    {
        var bank = Banks.Terms("pattern,category,id,mode\n\"bit\\s*coin\\s+doubl\\w*\",scam,r1,regex\n");
        const string text = "Send ＢＩＴ COIN DOUBLÉ guaranteed";

        var match = Assert.Single(Banks.Match(text, bank));
        Assert.Equal("ＢＩＴ COIN DOUBLÉ", text[match.Start..match.End]);
    }
}
