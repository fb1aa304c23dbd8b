using Moderation.Streams.Contracts;

namespace Moderation.Streams.Text;

/// <summary>
/// Rows of the CSV text bank files (RFC 4180 quoting, one row per line): a first row whose first field is the
/// header word is skipped, as are blank lines and lines starting with <c>#</c>. The free text of a row is bounded
/// and clean: ids at most <see cref="TextLimits.BankIdChars"/>, categories at most
/// <see cref="TextLimits.ReasonNameChars"/> characters, no control or format character (<see cref="SafeText.IsClean"/>).
/// </summary>
internal static class TextBankCsv
{
    /// <summary>At most this many rows per file; a larger file is refused rather than cut.</summary>
    public const int MaxRows = 1_000_000;

    public static IEnumerable<(int Line, List<string> Fields)> Rows(TextReader reader, string headerWord, List<TextBankRowError> errors)
    {
        int lineNumber = 0, rows = 0;
        bool first = true;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line) || line.StartsWith('#')) continue;
            var fields = new List<string>(4);
            if (!CsvLine.TrySplit(line, fields))
            {
                errors.Add(new TextBankRowError(lineNumber, "unbalanced quotes"));
                continue;
            }
            if (first)
            {
                first = false;
                if (fields[0].Trim().Equals(headerWord, StringComparison.OrdinalIgnoreCase)) continue;
            }
            if (++rows > MaxRows)
            {
                errors.Add(new TextBankRowError(lineNumber, $"more than {MaxRows} rows"));
                yield break;
            }
            yield return (lineNumber, fields);
        }
    }

    /// <summary>Why a category or id cannot be used, or null.</summary>
    public static string? Refusal(string category, string id) =>
        category.Length == 0 ? "category is empty"
        : TextLimits.Refusal("category", category, TextLimits.ReasonNameChars) ?? TextLimits.Refusal("id", id, TextLimits.BankIdChars);

    public static string Shown(string value) => TextLimits.Shown(value);
}
