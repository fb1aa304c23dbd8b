using System.Security.Cryptography;
using System.Text;

namespace Moderation.Streams.Text.Tests;

/// <summary>
/// The confusables come from Unicode's own TR39 table (<c>src/Moderation.Streams.Text/Data/confusables.txt</c>), embedded
/// verbatim: these tests pin that it is that file, that every row of it is read, and how it folds the letters evaders use.
/// </summary>
public sealed class ConfusablesTests
{
    private static byte[] EmbeddedTable()
    {
        using var stream = typeof(TermBank).Assembly.GetManifestResourceStream(Confusables.ResourceName);
        Assert.NotNull(stream);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    [Fact]
    public void The_embedded_table_is_unicodes_confusables_txt_15_0_0_byte_for_byte()
    {
        var bytes = EmbeddedTable();
        var text = Encoding.UTF8.GetString(bytes);

        // The digest Data/README.md records for the file as Unicode publishes it (ICU 72.1 vendors it unchanged).
        Assert.Equal("2b10130885c3370b101c52d7baedc452ab7f0e257b86c1e52ee657ecfc29ce64", Convert.ToHexStringLower(SHA256.HashData(bytes)));
        Assert.Contains("# Unicode Security Mechanisms for UTS #39", text, StringComparison.Ordinal);
        Assert.Contains("# Version: 15.0.0", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_row_of_the_table_is_read()
    {
        var text = Encoding.UTF8.GetString(EmbeddedTable());
        // The file states its own row count in its last line ("# total: 6311").
        var total = text.Split('\n').Select(l => l.Trim()).Last(l => l.StartsWith("# total:", StringComparison.Ordinal));
        int expected = int.Parse(total["# total:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);

        var rows = Confusables.ReadTable().ToList();

        Assert.Equal(expected, rows.Count);
        Assert.Equal(expected, rows.Select(r => r.Source).Distinct().Count());
        Assert.True(Confusables.Count > 1500, $"only {Confusables.Count} code points fold"); // 1,811 with 15.0.0
    }

    [Fact]
    public void A_row_is_parsed_with_its_prototype_and_the_prototypes_name()
    {
        var row = Confusables.ParseLine("0441 ;\t0063 ;\tMA\t# ( с → c ) CYRILLIC SMALL LETTER ES → LATIN SMALL LETTER C\t# ");
        Assert.Equal(new Confusables.Row(0x0441, "c", "LATIN SMALL LETTER C"), row);

        var many = Confusables.ParseLine("217F ;\t0072 006E ;\tMA\t# ( ⅿ → rn ) SMALL ROMAN NUMERAL ONE THOUSAND → LATIN SMALL LETTER R, LATIN SMALL LETTER N\t# ");
        Assert.Equal("rn", many?.Prototype);

        var symbol = Confusables.ParseLine("FF09 ;\t0029 ;\tMA\t#* ( ） → ) ) FULLWIDTH RIGHT PARENTHESIS → RIGHT PARENTHESIS\t# ");
        Assert.Equal(")", symbol?.Prototype);

        Assert.Null(Confusables.ParseLine("# total: 6311"));
        Assert.Null(Confusables.ParseLine(""));
        Assert.Null(Confusables.ParseLine("0441 ;\tZZZZ ;\tMA\t# broken"));
        Assert.Null(Confusables.ParseLine("110000 ;\t0063 ;\tMA\t# beyond Unicode"));
    }

    [Fact]
    public void Every_fold_is_lower_case_ascii_letters_or_digits_and_ascii_itself_never_folds()
    {
        int folding = 0;
        for (int cp = 0; cp <= 0x10FFFF; cp++)
        {
            if (!Confusables.TryFold(cp, out var latin)) continue;
            folding++;
            Assert.True(cp >= 128, $"U+{cp:X4} is ASCII");
            Assert.False(string.IsNullOrEmpty(latin));
            Assert.All(latin, c => Assert.True(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c), $"U+{cp:X4} folds to '{latin}'"));
        }
        Assert.Equal(Confusables.Count, folding);
    }

    // letter, what it folds to, why
    public static TheoryData<string, string> Folds => new()
    {
        { "а", "a" },   // Cyrillic small a → a (its own row)
        { "Н", "h" },   // Cyrillic capital en → H
        { "н", "h" },   // Cyrillic small en → ʜ LATIN LETTER SMALL CAPITAL H
        { "т", "t" },   // → ᴛ small capital T
        { "к", "k" },   // → ĸ (kra, not Latin-looking), so as its capital К → K
        { "м", "m" },   // → ʍ, so as М → M
        { "β", "b" },   // → ß, so as Β → B
        { "η", "n" },   // → n̩ (combining mark dropped)
        { "ν", "v" },   // Greek nu looks like v; its capital Ν like N
        { "Ν", "n" },
        { "ꓢ", "s" },   // Lisu: not in any hand-written list this project had
        { "ꓚ", "c" },
        { "ꓮ", "a" },
        { "ꓟ", "m" },
        { "𑣣", "m" },   // Warang Citi digit three → rn, the prototype of ASCII m, so m
        { "Ꮶ", "k" },   // Cherokee
        { "օ", "o" },   // Armenian
    };

    [Theory]
    [MemberData(nameof(Folds))]
    public void A_look_alike_folds_to_the_latin_letter_unicode_names(string letter, string latin)
    {
        Assert.True(Confusables.TryFold(char.ConvertToUtf32(letter, 0), out var folded));
        Assert.Equal(latin, folded);
    }

    [Theory]
    [InlineData("д")]   // Cyrillic de: no Latin prototype
    [InlineData("ж")]
    [InlineData("л")]
    [InlineData("и")]   // → ᴎ small capital REVERSED N: not n
    [InlineData("я")]   // → ᴙ small capital reversed R: not r
    [InlineData("ш")]
    [InlineData("λ")]
    [InlineData("中")]
    public void Letters_unicode_does_not_call_latin_look_alikes_keep_their_script(string letter)
    {
        Assert.False(Confusables.TryFold(char.ConvertToUtf32(letter, 0), out _));
    }

    [Theory]
    [InlineData("a ꓢꓚꓮꓟ here", "ꓢꓚꓮꓟ")]          // Lisu letters
    [InlineData("a ЅСАМ here", "ЅСАМ")]              // Cyrillic capitals
    [InlineData("a ѕсаʍ here", "ѕсаʍ")]              // ʍ is Latin (turned w): AnyAscii reads it w, so this is not scam…
    public void A_term_spelled_with_table_look_alikes_is_found_at_its_original_offsets(string text, string spelled)
    {
        var bank = Banks.Terms("scam,scam,t1\n", "fraud");

        var matches = Banks.Match(text, bank);

        if (spelled.Contains('ʍ'))
        {
            Assert.Empty(matches); // …the Latin blocks are read by their transliteration, before the table
            return;
        }
        var match = Assert.Single(matches);
        Assert.Equal(spelled, text[match.Start..match.End]);
    }

    [Fact]
    public void Cyrillic_em_spelling_scam_is_found()
    {
        var match = Assert.Single(Banks.Match("a ѕсам here", Banks.Terms("scam,scam,t1\n", "fraud")));
        Assert.Equal("ѕсам", "a ѕсам here"[match.Start..match.End]);
    }
}
