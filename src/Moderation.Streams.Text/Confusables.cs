using System.Collections.Frozen;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Moderation.Streams.Text;

/// <summary>
/// Characters that look like Latin letters or digits, folded to them in lower case, from Unicode's own TR39 table
/// (<c>Data/confusables.txt</c>, version 15.0.0, embedded verbatim; provenance and licence in <c>Data/README.md</c>).
/// A source character folds when its prototype is ASCII letters or digits once combining marks are dropped
/// (<c>Н → H</c>, <c>η → n̩</c>), or a Latin small capital (<c>н → ʜ</c>, recognised by the name the file gives it),
/// or — for a letter whose own prototype is neither — when its other case does (<c>к → ĸ</c> but <c>К → K</c>):
/// matching is case-insensitive, so a capital and its small letter must not fold apart. Prototypes in other scripts
/// or symbols are left alone, so genuine Greek or Russian text keeps its letters where Unicode does not say they look
/// Latin; ASCII sources (<c>0 → O</c>, <c>1 → l</c>) are the leetspeak step's business, except that a prototype which
/// is an ASCII letter's own (<c>m → rn</c>) folds to that letter (<c>ⅿ</c>-like letters of other scripts read <c>m</c>, as
/// the ASCII <c>m</c> they imitate is never turned into <c>rn</c>).
/// </summary>
internal static partial class Confusables
{
    /// <summary>The embedded table's resource name.</summary>
    internal const string ResourceName = "Moderation.Streams.Text.confusables.txt";

    private static readonly FrozenDictionary<int, string> Map = Build(ReadTable());

    /// <summary>The number of code points that fold (for tests and diagnostics).</summary>
    internal static int Count => Map.Count;

    /// <summary>The lower-case ASCII letters and digits <paramref name="codePoint"/> looks like, when it looks like any.</summary>
    public static bool TryFold(int codePoint, out string latin) => Map.TryGetValue(codePoint, out latin!);

    /// <summary>One line of the table: a source code point, its prototype, and the prototype's name (from the comment).</summary>
    internal readonly record struct Row(int Source, string Prototype, string PrototypeName);

    internal static IEnumerable<Row> ReadTable()
    {
        using var stream = typeof(Confusables).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"the confusables table ({ResourceName}) is not embedded in {typeof(Confusables).Assembly.GetName().Name}");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var rows = new List<Row>(6400);
        int lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (ParseLine(line) is { } row) rows.Add(row);
            else if (!IsBlankOrComment(line)) throw new InvalidDataException($"{ResourceName}:{lineNumber}: not a confusables row: {line}");
        }
        return rows;
    }

    private static bool IsBlankOrComment(string line)
    {
        var trimmed = line.AsSpan().Trim();
        return trimmed.IsEmpty || trimmed[0] == '#' || trimmed[0] == '\uFEFF';
    }

    /// <summary>Parses <c>0441 ;	0063 ;	MA	# ( с → c ) CYRILLIC SMALL LETTER ES → LATIN SMALL LETTER C	#</c>; null for
    /// anything else.</summary>
    internal static Row? ParseLine(string line)
    {
        var match = RowPattern().Match(line);
        if (!match.Success) return null;
        var source = match.Groups["source"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (source.Length != 1) return null;
        var prototype = new StringBuilder();
        foreach (var hex in match.Groups["target"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            int cp = int.Parse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (!Rune.IsValid(cp)) return null;
            prototype.Append(char.ConvertFromUtf32(cp));
        }
        int sourceCp = int.Parse(source[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        if (!Rune.IsValid(sourceCp)) return null;
        return new Row(sourceCp, prototype.ToString(), match.Groups["name"].Value.Trim());
    }

    [GeneratedRegex(@"^(?<source>[0-9A-F]{4,6}(?: [0-9A-F]{4,6})*)\s*;\s*(?<target>[0-9A-F]{4,6}(?: [0-9A-F]{4,6})*)\s*;\s*MA\b[^#]*(?:#[^)]*\)\s*.*?→(?<name>[^#→]*))?", RegexOptions.CultureInvariant)]
    private static partial Regex RowPattern();

    [GeneratedRegex(@"^LATIN LETTER SMALL CAPITAL (?<letter>[A-Z])$", RegexOptions.CultureInvariant)]
    private static partial Regex SmallCapital();

    internal static FrozenDictionary<int, string> Build(IEnumerable<Row> rows)
    {
        var own = new Dictionary<int, string>();
        var all = new HashSet<int>();
        var asciiLetterOf = new Dictionary<string, string>(); // "rn" → "m": the prototype of an ASCII letter is that letter
        var table = rows.ToList();
        foreach (var row in table)
            if (row.Source < 128 && char.IsAsciiLetter((char)row.Source) && AsciiOf(row) is { Length: > 1 } spelled)
                asciiLetterOf[spelled] = char.ToLowerInvariant((char)row.Source).ToString();
        foreach (var row in table)
        {
            if (row.Source < 128) continue; // 0 → O, 1 → l: leetspeak's
            all.Add(row.Source);
            if (AsciiOf(row) is { } ascii) own[row.Source] = asciiLetterOf.GetValueOrDefault(ascii, ascii);
        }
        var map = new Dictionary<int, string>(own);
        foreach (int source in all)
        {
            if (own.ContainsKey(source)) continue;
            // A letter whose own prototype is not Latin folds like its other case when that one does (к like К).
            foreach (int other in OtherCases(source))
                if (own.TryGetValue(other, out var ascii))
                {
                    map[source] = ascii;
                    break;
                }
        }
        // And a letter that is not in the table at all but whose other case folds (the table lists a capital only).
        foreach (var (source, ascii) in own)
            foreach (int other in OtherCases(source))
                if (other >= 128 && !map.ContainsKey(other) && !all.Contains(other)) map[other] = ascii;
        return map.ToFrozenDictionary();
    }

    /// <summary>The code point's upper and lower case, those that differ from it (upper first).</summary>
    private static IEnumerable<int> OtherCases(int codePoint)
    {
        var rune = new Rune(codePoint);
        foreach (var other in new[] { Rune.ToUpperInvariant(rune), Rune.ToLowerInvariant(rune) })
            if (other != rune) yield return other.Value;
    }

    /// <summary>The lower-case ASCII form of a row's prototype: ASCII letters and digits (combining marks dropped), or
    /// a Latin small capital; null for anything else.</summary>
    private static string? AsciiOf(Row row)
    {
        var runes = row.Prototype.EnumerateRunes().ToArray();
        if (runes.Length == 1 && SmallCapital().Match(row.PrototypeName) is { Success: true } capital)
            return capital.Groups["letter"].Value.ToLowerInvariant();
        var ascii = new StringBuilder(runes.Length);
        foreach (var rune in runes)
        {
            if (rune.IsAscii && char.IsAsciiLetterOrDigit((char)rune.Value)) ascii.Append(char.ToLowerInvariant((char)rune.Value));
            else if (Rune.GetUnicodeCategory(rune) != UnicodeCategory.NonSpacingMark) return null;
        }
        return ascii.Length == 0 ? null : ascii.ToString();
    }
}
