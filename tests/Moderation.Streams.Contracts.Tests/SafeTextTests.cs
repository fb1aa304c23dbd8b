using System.Text;
using CsCheck;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Contracts.Tests;

public class SafeTextTests
{
    [Theory]
    [InlineData("line\r\nforged INFO ok", "line\\u000D\\u000Aforged INFO ok")]
    [InlineData("\u001b[31mred", "\\u001B[31mred")]
    [InlineData("a\u2028b\u2029c\u0085d", "a\\u2028b\\u2029c\\u0085d")]
    [InlineData("abc\u202Egpj.exe", "abc\\u202Egpj.exe")] // right-to-left override
    [InlineData("zero\u200Bwidth\uFEFF", "zero\\u200Bwidth\\uFEFF")]
    [InlineData("del\u007F", "del\\u007F")]
    public void Control_format_and_separator_characters_are_escaped(string raw, string expected) =>
        Assert.Equal(expected, SafeText.Escape(raw));

    [Fact]
    public void Lone_surrogates_are_escaped()
    {
        // Built at run time: attribute arguments cannot carry an unpaired surrogate.
        Assert.Equal("lone\\uD800 high", SafeText.Escape("lone" + (char)0xD800 + " high"));
        Assert.Equal("lone\\uDC00 low", SafeText.Escape("lone" + (char)0xDC00 + " low"));
        Assert.Equal("end\\uD83D", SafeText.Escape("end" + (char)0xD83D));
    }

    [Theory]
    [InlineData("plain ascii, punctuation \\ and \"quotes\"")]
    [InlineData("ünïcödé 中文 emoji 😀 ok")]
    [InlineData("")]
    public void Clean_text_is_returned_unchanged(string text)
    {
        Assert.True(SafeText.IsClean(text));
        Assert.Same(text, SafeText.Escape(text));
    }

    [Fact]
    public void Long_text_is_cut_with_an_ellipsis_within_the_limit()
    {
        Assert.Equal("abcd…", SafeText.Escape("abcdefgh", 5));
        Assert.Equal("abcde", SafeText.Escape("abcde", 5));
        Assert.Equal("abc…", SafeText.Escape("abc\n", 5)); // "\u000A" does not fit behind abc
        Assert.Equal("…", SafeText.Escape("😀😀", 1));
        Assert.Equal("😀…", SafeText.Escape("😀😀", 3)); // a pair is never split
    }

    [Fact]
    public void Null_is_empty_and_a_limit_under_one_is_refused()
    {
        Assert.Equal("", SafeText.Escape(null));
        Assert.Equal("", SafeText.Escape(null, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => SafeText.Escape("a", 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => SafeText.Escape(null, 0));
    }

    [Fact]
    public void Clean_text_exactly_at_the_limit_is_the_same_string_and_one_over_is_cut()
    {
        var text = "abcde";
        Assert.Same(text, SafeText.Escape(text, 5));
        Assert.Equal("abcd…", SafeText.Escape("abcdef", 5));
        // The last piece may fill the limit exactly when nothing follows it, escaped or not.
        Assert.Equal("ab\\u000A", SafeText.Escape("ab\n", 8));
        Assert.Equal("ab…", SafeText.Escape("ab\n", 7));
        Assert.Equal("ab…", SafeText.Escape("ab\nc", 8)); // it would leave no room for the ellipsis
    }

    [Fact]
    public void A_surrogate_pair_before_an_escaped_character_is_kept_once()
    {
        Assert.Equal("😀\\u000A", SafeText.Escape("😀\n", 20));
        Assert.Equal("x😀y\\u0000", SafeText.Escape("x😀y\0"));
    }

    [Fact]
    public void Utf8_capping_keeps_the_longest_whole_prefix()
    {
        var text = "aé中😀b"; // 1 + 2 + 3 + 4 + 1 bytes
        int[] kept = [0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10, 11];
        for (int max = 0; max < kept.Length; max++)
            Assert.Equal(Encoding.UTF8.GetBytes(text)[..kept[max]], SafeText.Utf8Capped(text, max));
    }

    [Fact]
    public void Escaped_text_is_always_clean_and_within_the_limit() =>
        Gen.Char.Array[0, 300].Select(Gen.Int[1, 400]).Sample((chars, max) =>
        {
            var escaped = SafeText.Escape(new string(chars), max);
            return SafeText.IsClean(escaped) && escaped.Length <= max;
        });

    [Fact]
    public void Utf8_capping_never_splits_a_character()
    {
        var text = "aé中😀b";
        for (int max = 0; max <= Encoding.UTF8.GetByteCount(text); max++)
        {
            var bytes = SafeText.Utf8Capped(text, max);
            Assert.True(bytes.Length <= max);
            var decoded = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
            Assert.StartsWith(decoded, text);
        }
    }
}
