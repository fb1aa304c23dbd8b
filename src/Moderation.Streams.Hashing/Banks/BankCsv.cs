using System.Globalization;
using System.Text;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Hashing.Banks;

/// <summary>
/// The bank CSV: rows <c>hash,quality[,id[,label[,source[,added_at]]]]</c> (RFC 4180 quoting). The <c>hash</c>
/// verb's <c>hash,quality,path</c> lines read as is, the path becoming the id. A first row starting with the
/// word <c>hash</c> is a header; blank lines and lines starting with <c>#</c> are skipped. Export writes all six
/// columns under a header, so an export imports back to the same entries.
/// <para>Free text is bounded and clean: a row whose id is over <see cref="TextLimits.BankIdChars"/> characters, whose
/// label or source is over <see cref="TextLimits.BankLabelChars"/>, or whose text has a control or format character
/// (<see cref="SafeText.IsClean"/>) is refused and reported. Export neutralises spreadsheet formulas (OWASP CSV
/// injection): a text field that starts with <c>= + - @</c>, tab or CR, after any run of <c>'</c>, gets one more
/// <c>'</c> in front and is quoted; import takes one such <c>'</c> off again, so the round trip is exact. Text stored
/// by older versions that import would refuse is exported escaped and cut to the limits, so it imports.</para>
/// </summary>
public static class BankCsv
{
    public const string Header = "hash,quality,id,label,source,added_at";

    /// <summary>A row that could not be read, with its 1-based line number.</summary>
    public sealed record RowError(int Line, string Message);

    /// <summary>Reads entries into <paramref name="bank"/>. Missing ids become the hash itself; a missing source
    /// is <paramref name="defaultSource"/>; a missing added_at is <paramref name="now"/>.</summary>
    public static (List<BankEntry> Entries, List<RowError> Errors) Read(TextReader reader, string bank, string? defaultSource, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(reader);
        BankNames.Validate(bank);
        var entries = new List<BankEntry>();
        var errors = new List<RowError>();
        var fields = new List<string>(8);
        int lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (line.Length == 0 || line.StartsWith('#') || string.IsNullOrWhiteSpace(line)) continue;
            if (!CsvLine.TrySplit(line, fields))
            {
                errors.Add(new RowError(lineNumber, "unbalanced quotes"));
                continue;
            }
            if (lineNumber == 1 && fields[0].Trim().Equals("hash", StringComparison.OrdinalIgnoreCase)) continue;
            if (fields.Count < 2)
            {
                errors.Add(new RowError(lineNumber, "expected hash,quality[,id[,label[,source[,added_at]]]]"));
                continue;
            }
            if (!PdqHash.TryParse(fields[0].Trim(), out var hash))
            {
                errors.Add(new RowError(lineNumber, $"not a 64-hex-digit PDQ hash: '{Shown(fields[0])}'"));
                continue;
            }
            if (!int.TryParse(fields[1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int quality) || quality > 100)
            {
                errors.Add(new RowError(lineNumber, $"quality must be 0..100: '{Shown(fields[1])}'"));
                continue;
            }
            string id = fields.Count > 2 && fields[2].Length > 0 ? Unneutralise(fields[2]) : hash.ToString();
            string? label = fields.Count > 3 && fields[3].Length > 0 ? Unneutralise(fields[3]) : null;
            string? source = fields.Count > 4 && fields[4].Length > 0 ? Unneutralise(fields[4]) : Clean(defaultSource, TextLimits.BankLabelChars);
            if (BankText.Refusal(id, label, source) is { } refused)
            {
                errors.Add(new RowError(lineNumber, refused));
                continue;
            }
            var addedAt = now;
            if (fields.Count > 5 && fields[5].Length > 0 &&
                !DateTimeOffset.TryParse(fields[5], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out addedAt))
            {
                errors.Add(new RowError(lineNumber, $"added_at is not a timestamp: '{Shown(fields[5])}'"));
                continue;
            }
            entries.Add(new BankEntry(bank, id, hash, quality, label, source, addedAt.ToUniversalTime()));
        }
        return (entries, errors);
    }

    public static void Write(TextWriter writer, IEnumerable<BankEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteLine(Header);
        var line = new StringBuilder(160);
        foreach (var e in entries)
        {
            line.Clear();
            line.Append(e.Hash.ToString()).Append(',').Append(e.Quality.ToString(CultureInfo.InvariantCulture)).Append(',');
            Quote(line, Clean(e.Id, TextLimits.BankIdChars)).Append(',');
            Quote(line, Clean(e.Label, TextLimits.BankLabelChars)).Append(',');
            Quote(line, Clean(e.Source, TextLimits.BankLabelChars)).Append(',');
            line.Append(FormatTimestamp(e.AddedAt));
            writer.WriteLine(line);
        }
    }

    public static string FormatTimestamp(DateTimeOffset value) =>
        value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static StringBuilder Quote(StringBuilder line, string? value)
    {
        if (string.IsNullOrEmpty(value)) return line;
        bool formula = StartsFormula(value);
        if (formula) value = "'" + value;
        if (!formula && value.AsSpan().IndexOfAny(",\"\r\n") < 0) return line.Append(value);
        return line.Append('"').Append(value.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"');
    }

    /// <summary>Characters that make a spreadsheet read a cell as a formula (OWASP CSV injection).</summary>
    private const string FormulaStarts = "=+-@\t\r";

    /// <summary>True when <paramref name="value"/> is a formula start after any run of <c>'</c>: the texts export
    /// prefixes with one more <c>'</c> (and import takes one off), so a text already starting with <c>'</c> survives too.</summary>
    private static bool StartsFormula(string value)
    {
        int i = 0;
        while (i < value.Length && value[i] == '\'') i++;
        return i < value.Length && FormulaStarts.Contains(value[i]);
    }

    private static string Unneutralise(string value) => value.Length > 1 && value[0] == '\'' && StartsFormula(value) ? value[1..] : value;

    /// <summary>What export writes for text stored before import checked it: escaped and cut, so it imports again.</summary>
    private static string? Clean(string? value, int maxChars) => value is null ? null : SafeText.Escape(value, maxChars);

    private static string Shown(string value) => BankText.Shown(value);
}
