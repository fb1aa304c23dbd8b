using System.Globalization;
using System.Text;

namespace Moderation.Streams.Text;

/// <summary>One code point of a folded text and the UTF-16 span <c>[Start, End)</c> of the original text it came from.</summary>
internal readonly record struct FoldedUnit(int CodePoint, int Start, int End);

/// <summary>
/// The first step of <see cref="NormalizedText"/>: each code point of the original text, on its own, becomes zero or
/// more code points that compare as a reader sees them. Upper case to lower case; Latin letters with diacritics,
/// compatibility forms (fullwidth, ligatures, mathematical, circled, superscript letters) and typographic punctuation
/// to ASCII (AnyAscii's per-code-point transliteration: NFKC is not available, the product runs with invariant
/// globalization); then characters of other scripts that Unicode's TR39 table says look like Latin letters or digits
/// to those (<see cref="Confusables"/>);
/// format characters (zero-width, bidi controls, soft hyphen), combining marks and invisible fillers removed.
/// Working code point by code point keeps the offset of every folded code point in the original text.
/// </summary>
internal static class TextFolding
{
    public const int Space = ' ';

    public static List<FoldedUnit> Fold(string text)
    {
        var units = new List<FoldedUnit>(text.Length);
        int i = 0;
        while (i < text.Length)
        {
            var status = Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out int length);
            int start = i, end = i + length;
            i = end;
            if (status != System.Buffers.OperationStatus.Done)
            {
                units.Add(new FoldedUnit(Space, start, end)); // a lone surrogate separates, it never joins
                continue;
            }
            FoldRune(rune, start, end, units);
        }
        return units;
    }

    private static void FoldRune(Rune rune, int start, int end, List<FoldedUnit> units)
    {
        if (rune.IsAscii)
        {
            units.Add(new FoldedUnit(char.ToLowerInvariant((char)rune.Value), start, end));
            return;
        }
        if (IsInvisible(rune)) return;
        if (AsciiLookAlike(rune) is { } ascii)
        {
            foreach (char c in ascii) units.Add(new FoldedUnit(char.ToLowerInvariant(c), start, end));
            return;
        }
        var lower = Rune.ToLowerInvariant(rune);
        units.Add(new FoldedUnit(Rune.IsLetterOrDigit(lower) ? lower.Value : Space, start, end));
    }

    /// <summary>A text as a reader sees it, for the sentence model: format characters and invisible fillers removed,
    /// Latin and compatibility forms transliterated (<c>ｆｒｅｅ</c>, <c>𝐟𝐫𝐞𝐞</c>, <c>é</c>), and look-alikes of other scripts
    /// that Unicode's table folds to ASCII replaced by it (<c>bаnk</c> with a Cyrillic <c>а</c>); case, punctuation,
    /// digits and everything else kept (no leetspeak: digits mean something to the model). Plain ASCII is returned as is.</summary>
    internal static string ReadersForm(string text)
    {
        if (Ascii.IsValid(text)) return text;
        var form = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.IsAscii)
            {
                form.Append((char)rune.Value);
                continue;
            }
            if (DrawsNothing(rune)) continue;
            if (Rune.GetUnicodeCategory(rune) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark) form.Append(rune.ToString()); // the tokenizer drops marks
            else form.Append(AsciiLookAlike(rune) ?? rune.ToString());
        }
        return form.ToString();
    }

    /// <summary>The ASCII a non-ASCII code point reads as, or null: Latin and compatibility forms by their
    /// transliteration (AnyAscii, NFKC-like) first, then look-alikes of other scripts by Unicode's table
    /// (<see cref="Confusables"/>).</summary>
    private static string? AsciiLookAlike(Rune rune) =>
        IsLatinOrCompatibility(rune.Value) ? AnyAscii.Transliteration.Transliterate(rune.ToString())
        : Confusables.TryFold(rune.Value, out var latin) ? latin
        : null;

    /// <summary>Format characters (zero-width, bidi controls, soft hyphen, BOM) and the combining marks and fillers that
    /// draw nothing (<see cref="IsDefaultIgnorableMark"/>): what a reader never sees, removed before links are found and
    /// before the sentence model reads a text.</summary>
    public static bool DrawsNothing(Rune rune) => Rune.GetUnicodeCategory(rune) is UnicodeCategory.Format || IsDefaultIgnorableMark(rune.Value);

    /// <summary>Format characters (zero-width space and joiners, bidi controls, soft hyphen, word joiner, BOM),
    /// combining marks (diacritics written separately, variation selectors) and the fillers that draw nothing.</summary>
    private static bool IsInvisible(Rune rune)
    {
        switch (Rune.GetUnicodeCategory(rune))
        {
            case UnicodeCategory.Format:
            case UnicodeCategory.NonSpacingMark:
            case UnicodeCategory.EnclosingMark:
                return true;
        }
        return rune.Value is 0x115F or 0x1160 or 0x3164 or 0xFFA0 or 0x2800 or 0x180E;
    }

    /// <summary>Combining marks that draw nothing: the grapheme joiner, variation selectors, invisible fillers.</summary>
    public static bool IsDefaultIgnorableMark(int cp) =>
        cp is 0x034F or (>= 0xFE00 and <= 0xFE0F) or (>= 0xE0100 and <= 0xE01EF) or 0x115F or 0x1160 or 0x3164 or 0xFFA0 or 0x180E;

    /// <summary>Blocks whose characters are Latin letters, compatibility variants of ASCII, or punctuation with an
    /// ASCII equivalent: transliterated. Other scripts keep their letters (lower-cased).</summary>
    private static bool IsLatinOrCompatibility(int cp) => cp switch
    {
        >= 0x00A0 and <= 0x02FF => true,   // Latin-1 Supplement, Latin Extended-A/B, IPA, spacing modifier letters (ˢ ʰ)
        >= 0x1D00 and <= 0x1DBF => true,   // phonetic extensions (small capitals)
        >= 0x1E00 and <= 0x1EFF => true,   // Latin Extended Additional
        >= 0x2000 and <= 0x206F => true,   // general punctuation (quotes, dashes, spaces)
        >= 0x2070 and <= 0x209F => true,   // superscripts and subscripts
        >= 0x2100 and <= 0x218F => true,   // letterlike symbols, number forms (Roman numerals)
        >= 0x2460 and <= 0x24FF => true,   // enclosed alphanumerics (circled letters)
        >= 0x2C60 and <= 0x2C7F => true,   // Latin Extended-C
        0x3000 => true,                    // ideographic space
        >= 0xA720 and <= 0xA7FF => true,   // Latin Extended-D
        >= 0xAB30 and <= 0xAB6F => true,   // Latin Extended-E
        >= 0xFB00 and <= 0xFB06 => true,   // Latin ligatures (ﬁ, ﬂ, ﬀ …)
        >= 0xFF00 and <= 0xFFEF => true,   // fullwidth and halfwidth forms
        >= 0x1D400 and <= 0x1D7FF => true, // mathematical alphanumeric symbols
        >= 0x1F100 and <= 0x1F1FF => true, // enclosed alphanumeric supplement (🅰, squared letters)
        _ => false,
    };
}
