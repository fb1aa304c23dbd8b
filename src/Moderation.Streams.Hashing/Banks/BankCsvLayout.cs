using System.Globalization;

namespace Moderation.Streams.Hashing.Banks;

/// <summary>
/// Which column of a bank CSV holds what, detected from its first row (after blank and <c>#</c> lines):
/// <list type="bullet">
/// <item>no header, the project's own rows <c>hash,quality[,id[,label[,source[,added_at]]]]</c> (<see cref="Moderation"/>);</item>
/// <item>no header, the ThreatExchange / HMA sample-data dump <c>hash,indicator_id,added_on,tags</c> (a second column
/// that is no quality 0..100 and a third that is a timestamp) (<see cref="ThreatExchange"/>);</item>
/// <item>a header naming the columns: HMA's bank export (<c>signal_type,signal,…</c>: rows of other signal types are
/// skipped) (<see cref="Hma"/>), ThreatExchange's (a hash column such as <c>hash</c>, <c>pdq</c>, <c>raw_indicator</c>,
/// plus optional metadata such as <c>quality,id,labels,added_on</c>), or the project's own export header.</item>
/// </list>
/// Header names are matched without case, spaces and dashes read as <c>_</c>; columns the layout does not use are
/// ignored and listed (<see cref="Ignored"/>). A header with no hash column, or two columns for one field, is refused
/// (<see cref="BankCsvHeaderException"/>).
/// </summary>
public sealed record BankCsvLayout
{
    public const string Moderation = "moderation";
    public const string Hma = "hma";
    public const string ThreatExchange = "threatexchange";

    /// <summary>Names a header may give the hash column of a PDQ bank.</summary>
    public static readonly IReadOnlyList<string> PdqHashColumns = ["hash", "pdq", "pdq_hash", "signal", "signal_value", "hash_value", "raw_indicator", "indicator"];

    private static readonly string[] QualityColumns = ["quality", "pdq_quality"];
    private static readonly string[] IdColumns = ["id", "content_id", "bank_content_id", "indicator_id", "threat_descriptor_id", "descriptor_id", "match_id"];
    private static readonly string[] LabelColumns = ["label", "labels", "tags", "category", "categories"];
    private static readonly string[] SourceColumns = ["source", "owner", "owner_name", "bank_name", "collab", "collaboration"];
    private static readonly string[] AddedAtColumns = ["added_at", "added_on", "created_at", "creation_time", "created", "timestamp"];
    private static readonly string[] SignalTypeColumns = ["signal_type", "hash_type"];
    private static readonly string[] OwnColumns = ["hash", "quality", "id", "label", "source", "added_at"];

    /// <summary><see cref="Moderation"/>, <see cref="Hma"/> or <see cref="ThreatExchange"/>.</summary>
    public required string Format { get; init; }

    /// <summary>The first row names the columns (it is not an entry).</summary>
    public bool HasHeader { get; init; }

    public int Hash { get; init; }
    public int Quality { get; init; } = -1;
    public int Id { get; init; } = -1;
    public int Label { get; init; } = -1;
    public int Source { get; init; } = -1;
    public int AddedAt { get; init; } = -1;
    public int SignalType { get; init; } = -1;

    /// <summary>Header columns no field is read from.</summary>
    public IReadOnlyList<string> Ignored { get; init; } = [];

    /// <summary>The least fields a headerless row of this layout has (the own PDQ rows need hash and quality).</summary>
    public int MinFields { get; init; } = 1;

    /// <summary>An own layout's column names, as its export header writes them.</summary>
    public IReadOnlyList<string> Columns { get; init; } = [];

    /// <summary>The project's own headerless rows.</summary>
    public static BankCsvLayout Own { get; } = new()
    {
        Format = Moderation, Hash = 0, Quality = 1, Id = 2, Label = 3, Source = 4, AddedAt = 5, MinFields = 2, Columns = OwnColumns,
    };

    /// <summary>The project's own rows of an exact file-hash bank: <c>digest[,id[,label[,source[,added_at]]]]</c>.</summary>
    public static BankCsvLayout OwnDigest { get; } = new()
    {
        Format = Moderation, Hash = 0, Id = 1, Label = 2, Source = 3, AddedAt = 4, Columns = ["digest", "id", "label", "source", "added_at"],
    };

    /// <summary>ThreatExchange's headerless dump, as in HMA's sample data: <c>hash,indicator_id,added_on,tags</c>.</summary>
    public static BankCsvLayout ThreatExchangeDump { get; } = new() { Format = ThreatExchange, Hash = 0, Id = 1, AddedAt = 2, Label = 3 };

    /// <summary>The layout of a file whose first row is <paramref name="first"/>.</summary>
    /// <param name="isHash">Whether a field is a hash of the bank's kind (a first field that is one starts a headerless file).</param>
    /// <param name="hashColumns">Header names of the hash column for the bank's kind.</param>
    /// <exception cref="BankCsvHeaderException">The first row is a header this reader does not know.</exception>
    /// <param name="own">The project's own headerless layout for the bank's kind (default: <see cref="Own"/>, PDQ rows).</param>
    public static BankCsvLayout Detect(IReadOnlyList<string> first, Func<string, bool> isHash, IReadOnlyList<string> hashColumns, BankCsvLayout? own = null)
    {
        own ??= Own;
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(isHash);
        ArgumentNullException.ThrowIfNull(hashColumns);
        string head = first.Count > 0 ? first[0].Trim() : "";
        if (isHash(head) || IsHex(head) || !IsColumnName(head))
        {
            // A data row (a mangled hash is still a data row: reported on its line). The TE dump's second column is an
            // indicator id (a quality is 0..100) and its third a timestamp; such a row would be refused in the own layout.
            bool dump = first.Count >= 3 && (own.Quality != 1 || !IsQuality(first[1])) && first[1].Trim().Length > 0 && first[1].Trim().All(char.IsAsciiDigit)
                        && TryParseTimestamp(first[2], out _);
            return dump ? ThreatExchangeDump : own;
        }
        var names = first.Select(Normalise).ToList();
        int hash = Find(names, hashColumns, "hash");
        if (hash < 0)
            throw new BankCsvHeaderException(
                $"unknown header '{BankText.Shown(string.Join(',', first))}': expected a hash column ({string.Join(", ", hashColumns)}) " +
                "as in the project's hash,quality,id,label,source,added_at, HMA's signal_type,signal,… or ThreatExchange's hash,quality,id,labels");
        int signalType = Find(names, SignalTypeColumns, "signal type");
        var layout = new BankCsvLayout
        {
            HasHeader = true,
            Hash = hash,
            Quality = Find(names, QualityColumns, "quality"),
            Id = Find(names, IdColumns, "id"),
            Label = Find(names, LabelColumns, "label"),
            Source = Find(names, SourceColumns, "source"),
            AddedAt = Find(names, AddedAtColumns, "added_at"),
            SignalType = signalType,
            Format = signalType >= 0 ? Hma
                : names.Count >= 2 && names.Count <= own.Columns.Count && names.Select((n, i) => n == own.Columns[i]).All(x => x) ? Moderation
                : ThreatExchange,
        };
        var used = new[] { layout.Hash, layout.Quality, layout.Id, layout.Label, layout.Source, layout.AddedAt, layout.SignalType };
        return layout with { Ignored = [.. first.Where((_, i) => !used.Contains(i)).Select(n => BankText.Shown(n.Trim()))] };
    }

    /// <summary>The field at <paramref name="column"/>, or "" when the column is absent or the row short.</summary>
    public static string Field(IReadOnlyList<string> fields, int column) => column >= 0 && column < fields.Count ? fields[column] : "";

    /// <summary>ISO 8601 (<c>2020-07-31T18:47:52+0000</c> as ThreatExchange writes it too) or Unix seconds/milliseconds.</summary>
    public static bool TryParseTimestamp(string text, out DateTimeOffset value)
    {
        text = text.Trim();
        value = default;
        if (text.Length == 0) return false;
        if (text.All(char.IsAsciiDigit) && text.Length <= 13 && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long n))
        {
            value = n < 100_000_000_000 ? DateTimeOffset.FromUnixTimeSeconds(n) : DateTimeOffset.FromUnixTimeMilliseconds(n);
            return true;
        }
        // "+0000" (no colon), as ThreatExchange writes offsets: give it one.
        if (text.Length > 5 && text[^5] is '+' or '-' && text[^4..].All(char.IsAsciiDigit) && text.Contains('T', StringComparison.Ordinal))
            text = text[..^2] + ":" + text[^2..];
        if (!text.Any(char.IsAsciiLetter) && !text.Contains('-', StringComparison.Ordinal)) return false; // "12.5" is no date
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out value);
    }

    private static bool IsQuality(string text) =>
        int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int q) && q <= 100;

    /// <summary>A header's first field is a word (letters, digits, <c>_</c>, <c>-</c>, spaces, starting with a letter);
    /// anything else starts a data row, reported on its line if it is no hash.</summary>
    private static bool IsColumnName(string text)
    {
        text = text.Trim('"');
        return text.Length is > 0 and <= 64 && char.IsAsciiLetter(text[0]) && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or ' ');
    }

    private static bool IsHex(string text) => text.Length > 0 && text.All(char.IsAsciiHexDigit);

    private static string Normalise(string name) =>
        name.Trim().Trim('"').ToLowerInvariant().Replace(' ', '_').Replace('-', '_');

    private static int Find(List<string> names, IReadOnlyList<string> candidates, string field)
    {
        int found = -1;
        for (int i = 0; i < names.Count; i++)
        {
            if (!candidates.Contains(names[i])) continue;
            if (found >= 0)
                throw new BankCsvHeaderException($"header names two {field} columns ('{BankText.Shown(names[found])}' and '{BankText.Shown(names[i])}'): keep one");
            found = i;
        }
        return found;
    }
}

/// <summary>A bank CSV's header is not one the reader knows, or is ambiguous: nothing is imported.</summary>
public sealed class BankCsvHeaderException(string message) : FormatException(message);
