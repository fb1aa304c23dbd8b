using System.Globalization;
using System.Text;

namespace Moderation.Streams.Contracts;

/// <summary>
/// Makes text that came from an upload (or a bank file) safe to put in a log line, a Kafka header or a decision:
/// control characters (C0, DEL, C1: CR, LF, ESC…), format characters (zero-width, bidi overrides, BOM), line and
/// paragraph separators and lone surrogates are written as <c>\uXXXX</c>, so nobody can forge a log line, move a
/// terminal's cursor or reverse what a reader sees; the result is cut to a maximum length.
/// </summary>
public static class SafeText
{
    public const string Ellipsis = "…";

    /// <summary>True when <paramref name="c"/> must not reach a log or header as it is.</summary>
    public static bool IsUnsafe(char c) =>
        char.IsSurrogate(c) || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.Control or UnicodeCategory.Format
            or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;

    /// <summary>True when the text has nothing <see cref="Escape"/> would change (paired surrogates are fine).</summary>
    public static bool IsClean(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            if (IsUnsafe(c)) return false;
        }
        return true;
    }

    /// <summary>Escapes unsafe characters as <c>\uXXXX</c> (a backslash itself stays) and cuts the result to at most
    /// <paramref name="maxChars"/> characters, ending in <see cref="Ellipsis"/> when cut. A surrogate pair is never split.</summary>
    public static string Escape(string? text, int maxChars = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxChars, 1);
        if (string.IsNullOrEmpty(text)) return text ?? "";
        if (text.Length <= maxChars && IsClean(text)) return text;
        var sb = new StringBuilder(Math.Min(text.Length + 16, maxChars));
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            string piece;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                piece = text.Substring(i++, 2);
            else if (IsUnsafe(c))
                piece = "\\u" + ((int)c).ToString("X4", CultureInfo.InvariantCulture);
            else
                piece = c.ToString();
            // Cut before a piece that does not fit, or that would leave no room for the ellipsis with text still to
            // come; what is kept is then always at most maxChars - 1 long.
            if (sb.Length + piece.Length > maxChars || (sb.Length + piece.Length == maxChars && i + 1 < text.Length))
                return sb.Append(Ellipsis).ToString();
            sb.Append(piece);
        }
        return sb.ToString();
    }

    /// <summary>Cuts UTF-8 bytes of <paramref name="text"/> to at most <paramref name="maxBytes"/> bytes without splitting
    /// a character (for headers, whose limit is in bytes).</summary>
    public static byte[] Utf8Capped(string text, int maxBytes)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        if (bytes.Length <= maxBytes) return bytes;
        int end = maxBytes;
        while (end > 0 && (bytes[end] & 0xC0) == 0x80) end--; // back to the start of the character that did not fit
        return bytes[..end];
    }
}
