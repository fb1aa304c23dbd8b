using System.Globalization;
using System.Text;
using static Moderation.Streams.Text.CodePoints;
using System.Text.RegularExpressions;

namespace Moderation.Streams.Text;

/// <summary>
/// Finds the hosts a text names, in every form a reader would follow: URLs (<c>https://bad.example/x</c>,
/// <c>hxxp://</c>: the scheme does not matter, the host is found by its shape), bare hosts (<c>bad.example/x</c>,
/// <c>www.bad.example</c>) and defanged ones (<c>bad[.]example</c>, <c>bad(.)example</c>, <c>bad{.}example</c>,
/// <c>bad[dot]example</c>, <c>bad dot example</c>, <c>bad . example</c>, <c>bad\.example</c>). Fullwidth and ideographic dots count as dots; format characters
/// are removed and percent-escapes decoded (<c>b%61d.example</c>) first, as a URL parser does for a host. Each host is canonicalised: lower case, IDNA (punycode) through <see cref="IdnMapping"/>;
/// userinfo (<c>user@</c>), the port and a trailing dot are not part of what is found. Anything shaped like a host
/// is returned (<c>file.txt</c> too): only the domain lists decide what matters. A host written with look-alike
/// letters of other scripts (<c>bаd.example</c> with a Cyrillic <c>а</c>) is returned twice: as its own punycode and as
/// the ASCII host it imitates.
/// </summary>
public static class LinkFinder
{
    private const string Label = @"[\p{L}\p{N}](?:[\p{L}\p{M}\p{N}-]*[\p{L}\p{M}\p{N}])?";
    private const string Separator = @"(?:\\?\.|\s?[\[\(\{]\s?(?:\.|dot)\s?[\]\)\}]\s?|\s+dot\s+| \. )";

    // Linear time whatever the text (non-backtracking engine).
    private static readonly Regex HostShape = new($"{Label}(?:{Separator}{Label})+",
        RegexOptions.NonBacktracking | RegexOptions.CultureInvariant);

    private static readonly Regex LabelShape = new(Label, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant);

    private static readonly IdnMapping Idn = new();

    public const int MaxHostChars = 253;

    public static List<FoundHost> Find(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var (view, starts, ends) = View(text);
        var hosts = new List<FoundHost>();
        foreach (var m in HostShape.EnumerateMatches(view))
        {
            var span = view.AsSpan(m.Index, m.Length);
            var labels = new List<string>();
            foreach (var l in LabelShape.EnumerateMatches(span))
            {
                // "dot" between spaces or brackets is a defanged dot, not a label.
                bool spelledDot = span.Slice(l.Index, l.Length) is "dot" &&
                                  l.Index > 0 && IsDefangEdge(span[l.Index - 1]) &&
                                  l.Index + l.Length < span.Length && IsDefangEdge(span[l.Index + l.Length]);
                if (!spelledDot) labels.Add(span.Slice(l.Index, l.Length).ToString());
            }
            if (labels.Count < 2) continue;
            string written = string.Join('.', labels);
            int start = starts[m.Index], end = ends[m.Index + m.Length - 1];
            if (Canonical(written) is { } host) hosts.Add(new FoundHost(host, start, end));
            // A host spelled with look-alike letters (Cyrillic а in bаd.example) is also checked as the host it imitates.
            if (!Ascii.IsValid(written) && Lookalike(written) is { } imitated && Canonical(imitated) is { } canonical)
                hosts.Add(new FoundHost(canonical, start, end));
        }
        return hosts;
    }

    /// <summary>The ASCII host a non-ASCII host looks like (confusables and Latin letters with diacritics folded, as
    /// for terms), or null when some letter has no ASCII look-alike.</summary>
    private static string? Lookalike(string host)
    {
        var ascii = new StringBuilder(host.Length);
        foreach (var unit in TextFolding.Fold(host))
        {
            if (unit.CodePoint is not ('.' or '-' or (>= 'a' and <= 'z') or (>= '0' and <= '9'))) return null;
            ascii.Append((char)unit.CodePoint);
        }
        return ascii.ToString();
    }

    private static bool IsDefangEdge(char c) => char.IsWhiteSpace(c) || c is '[' or ']' or '(' or ')' or '{' or '}';

    /// <summary>The canonical ASCII form of a host or domain (lower case, punycode, no trailing dot), or null when
    /// it is not a valid host name.</summary>
    public static string? Canonical(string host)
    {
        host = host.Trim().TrimEnd('.').ToLowerInvariant();
        if (host.Length == 0 || host.Length > MaxHostChars * 4) return null;
        try
        {
            var ascii = Idn.GetAscii(host).ToLowerInvariant();
            return ascii.Length <= MaxHostChars ? ascii : null;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The text with format characters (and the combining marks that draw nothing) removed, fullwidth ASCII and
    /// the other dots folded, lower case, percent-escapes decoded as a URL host's are (<c>b%61d.example</c>,
    /// <c>b%C3%A4d.example</c>: UTF-8 bytes; an escape that is not valid UTF-8 stays as written); with each UTF-16
    /// unit's original span.</summary>
    private static (string View, int[] Starts, int[] Ends) View(string text)
    {
        var view = new StringBuilder(text.Length);
        var starts = new List<int>(text.Length);
        var ends = new List<int>(text.Length);
        Span<byte> escaped = stackalloc byte[MaxEscapes];
        Span<int> escapeStarts = stackalloc int[MaxEscapes];
        int i = 0;
        while (i < text.Length)
        {
            int escapes = 0;
            while (escapes < MaxEscapes && IsEscape(text, i))
            {
                escapeStarts[escapes] = i;
                escaped[escapes++] = (byte)Convert.FromHexString(text.AsSpan(i + 1, 2))[0];
                i += 3;
            }
            if (escapes > 0)
            {
                for (int b = 0; b < escapes;)
                {
                    if (Rune.DecodeFromUtf8(escaped[b..escapes], out var decoded, out int used) == System.Buffers.OperationStatus.Done)
                    {
                        Emit(decoded, escapeStarts[b], escapeStarts[b + used - 1] + 3);
                    }
                    else
                    {
                        used = Math.Max(1, used);
                        for (int k = b; k < b + used; k++)
                            for (int c = 0; c < 3; c++) Emit(new Rune(text[escapeStarts[k] + c]), escapeStarts[k] + c, escapeStarts[k] + c + 1);
                    }
                    b += used;
                }
                continue;
            }
            Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out int length);
            Emit(rune, i, i + length);
            i += length;
        }
        return (view.ToString(), [.. starts], [.. ends]);

        void Emit(Rune rune, int start, int end)
        {
            if (TextFolding.DrawsNothing(rune)) return;
            int cp = rune.Value switch
            {
                0x3002 or 0xFF0E or 0xFF61 or 0x2024 or 0xFE52 => '.',
                >= 0xFF01 and <= 0xFF5E => rune.Value - 0xFF01 + 0x21,
                0x3000 => ' ',
                _ => Rune.ToLowerInvariant(rune).Value,
            };
            if (cp is >= 'A' and <= 'Z') cp += 32;
            int before = view.Length;
            AppendCodePoint(view, Rune.IsValid(cp) ? cp : 0xFFFD);
            for (int k = before; k < view.Length; k++)
            {
                starts.Add(start);
                ends.Add(end);
            }
        }
    }

    /// <summary>At most this many escapes in a row are decoded together (a UTF-8 sequence takes at most four).</summary>
    private const int MaxEscapes = 64;

    private static bool IsEscape(string text, int i) =>
        i + 2 < text.Length && text[i] == '%' && char.IsAsciiHexDigit(text[i + 1]) && char.IsAsciiHexDigit(text[i + 2]);
}
