using System.Globalization;
using System.Text;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Hashing.Banks;

/// <summary>
/// The bank CSV: rows <c>hash,quality[,id[,label[,source[,added_at]]]]</c> (RFC 4180 quoting). The <c>hash</c>
/// verb's <c>hash,quality,path</c> lines read as is, the path becoming the id. Blank lines and lines starting with
/// <c>#</c> are skipped. The exports of HMA (<c>signal_type,signal,…</c>) and ThreatExchange (a header naming the hash
/// column plus optional metadata, or its headerless <c>hash,id,added_on,tags</c> dump) read too: the first row decides
/// (<see cref="BankCsvLayout"/>). Export writes all six columns under a header, so an export imports back to the same
/// entries.
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

    /// <summary>The quality recorded for rows of a file that has no quality column (HMA and ThreatExchange lists carry
    /// none): the list is trusted as given, so its hashes are searched.</summary>
    public const int MissingQuality = 100;

    /// <summary>A row that could not be read, with its 1-based line number.</summary>
    public sealed record RowError(int Line, string Message);

    /// <summary>One row as read, before it becomes an entry: the hash text checked, trimmed and lower-cased; a null id
    /// means the row gave none.</summary>
    public sealed record Row(string Hash, int Quality, string? Id, string? Label, string? Source, DateTimeOffset AddedAt);

    /// <summary>What a read found: the rows, the rows refused, the file's layout (null when it had no rows) and how
    /// many rows were skipped as being of another signal type (HMA exports list every signal type of a bank).</summary>
    public sealed record ReadResult<T>(List<T> Entries, List<RowError> Errors, BankCsvLayout? Layout, int SkippedOtherSignalTypes);

    /// <summary>HMA signal types a PDQ bank takes.</summary>
    public static readonly IReadOnlyList<string> PdqSignalTypes = ["pdq"];

    /// <summary>Reads entries into <paramref name="bank"/>. Missing ids become the hash itself; a missing source
    /// is <paramref name="defaultSource"/>; a missing added_at is <paramref name="now"/>; a missing quality column
    /// is <see cref="MissingQuality"/>.</summary>
    /// <exception cref="BankCsvHeaderException">The first row is a header this reader does not know.</exception>
    public static (List<BankEntry> Entries, List<RowError> Errors) Read(TextReader reader, string bank, string? defaultSource, DateTimeOffset now)
    {
        var result = ReadAny(reader, bank, defaultSource, now);
        return (result.Entries, result.Errors);
    }

    /// <inheritdoc cref="Read"/>
    public static ReadResult<BankEntry> ReadAny(TextReader reader, string bank, string? defaultSource, DateTimeOffset now)
    {
        BankNames.Validate(bank);
        var rows = ReadRows(reader, BankCsvLayout.PdqHashColumns, PdqSignalTypes, IsPdqHash, NotAPdqHash, defaultSource, now);
        var entries = rows.Entries.ConvertAll(r => Entry(bank, r));
        return new ReadResult<BankEntry>(entries, rows.Errors, rows.Layout, rows.SkippedOtherSignalTypes);
    }

    /// <summary>A PDQ bank CSV read one row at a time (<see cref="RowReader"/>); <see cref="Entry"/> makes each an entry.</summary>
    public static RowReader PdqRows(TextReader reader, string? defaultSource, DateTimeOffset now) =>
        new(reader, BankCsvLayout.PdqHashColumns, PdqSignalTypes, IsPdqHash, NotAPdqHash, defaultSource, now);

    /// <summary>The entry of <paramref name="bank"/> a PDQ row makes: a missing id becomes the hash itself.</summary>
    public static BankEntry Entry(string bank, Row row)
    {
        ArgumentNullException.ThrowIfNull(row);
        return new BankEntry(bank, row.Id ?? row.Hash, PdqHash.Parse(row.Hash), row.Quality, row.Label, row.Source, row.AddedAt);
    }

    private const string NotAPdqHash = "not a 64-hex-digit PDQ hash";

    private static bool IsPdqHash(string text) => PdqHash.TryParse(text, out _);

    /// <summary>The rows of a bank CSV of any layout (<see cref="BankCsvLayout"/>) whose hashes <paramref name="isHash"/>
    /// accepts; <paramref name="hashColumns"/> and <paramref name="signalTypes"/> name the kind's hash column and HMA
    /// signal types.</summary>
    /// <exception cref="BankCsvHeaderException">The first row is a header this reader does not know.</exception>
    /// <param name="own">The project's own headerless layout for the kind (default: PDQ's <see cref="BankCsvLayout.Own"/>).</param>
    public static ReadResult<Row> ReadRows(TextReader reader, IReadOnlyList<string> hashColumns, IReadOnlyList<string> signalTypes,
        Func<string, bool> isHash, string notAHash, string? defaultSource, DateTimeOffset now, BankCsvLayout? own = null)
    {
        var rows = new RowReader(reader, hashColumns, signalTypes, isHash, notAHash, defaultSource, now, own);
        var entries = new List<Row>();
        var errors = new List<RowError>();
        while (rows.Next(out var row, out var error))
        {
            if (row is not null) entries.Add(row);
            else errors.Add(error!);
        }
        return new ReadResult<Row>(entries, errors, rows.Layout, rows.SkippedOtherSignalTypes);
    }

    /// <summary>The rows of a bank CSV one at a time, so a file of millions of rows is read in constant memory (the
    /// streaming <c>bank import</c>); <see cref="ReadRows"/> collects them. The layout is detected from the first row
    /// (<see cref="BankCsvLayout.Detect"/>, which throws <see cref="BankCsvHeaderException"/> from <see cref="Next"/>).</summary>
    public sealed class RowReader
    {
        private readonly TextReader _reader;
        private readonly IReadOnlyList<string> _hashColumns;
        private readonly IReadOnlyList<string> _signalTypes;
        private readonly Func<string, bool> _isHash;
        private readonly string _notAHash;
        private readonly string? _fallbackSource;
        private readonly DateTimeOffset _now;
        private readonly BankCsvLayout? _own;
        private readonly List<string> _fields = new(8);

        public RowReader(TextReader reader, IReadOnlyList<string> hashColumns, IReadOnlyList<string> signalTypes,
            Func<string, bool> isHash, string notAHash, string? defaultSource, DateTimeOffset now, BankCsvLayout? own = null)
        {
            ArgumentNullException.ThrowIfNull(reader);
            ArgumentNullException.ThrowIfNull(hashColumns);
            ArgumentNullException.ThrowIfNull(signalTypes);
            ArgumentNullException.ThrowIfNull(isHash);
            _reader = reader;
            _hashColumns = hashColumns;
            _signalTypes = signalTypes;
            _isHash = isHash;
            _notAHash = notAHash;
            _fallbackSource = defaultSource is null ? null : Clean(defaultSource, TextLimits.BankLabelChars);
            _now = now;
            _own = own;
        }

        /// <summary>The file's layout, once its first row is read (null before, and for a file without rows).</summary>
        public BankCsvLayout? Layout { get; private set; }

        /// <summary>Rows skipped so far as being of another signal type (HMA exports list every signal type of a bank).</summary>
        public int SkippedOtherSignalTypes { get; private set; }

        /// <summary>Lines read so far (1-based number of the last one).</summary>
        public long Line { get; private set; }

        /// <summary>Reads up to the next row or refused row: true with exactly one of <paramref name="row"/> and
        /// <paramref name="error"/> set; false at the end of the file.</summary>
        /// <exception cref="BankCsvHeaderException">The first row is a header this reader does not know.</exception>
        public bool Next(out Row? row, out RowError? error)
        {
            row = null;
            error = null;
            while (_reader.ReadLine() is { } line)
            {
                Line++;
                if (line.Length == 0 || line.StartsWith('#') || string.IsNullOrWhiteSpace(line)) continue;
                if (!CsvLine.TrySplit(line, _fields))
                {
                    error = Refused("unbalanced quotes");
                    return true;
                }
                if (Layout is null)
                {
                    Layout = BankCsvLayout.Detect(_fields, _isHash, _hashColumns, _own);
                    if (Layout.HasHeader) continue;
                }
                if (Layout.SignalType >= 0 && !_signalTypes.Contains(BankCsvLayout.Field(_fields, Layout.SignalType).Trim().ToLowerInvariant()))
                {
                    SkippedOtherSignalTypes++;
                    continue;
                }
                return Parse(out row, out error);
            }
            return false;
        }

        private bool Parse(out Row? row, out RowError? error)
        {
            var layout = Layout!;
            var fields = _fields;
            row = null;
            error = null;
            if (!layout.HasHeader && fields.Count < layout.MinFields)
            {
                error = Refused("expected hash,quality[,id[,label[,source[,added_at]]]]");
                return true;
            }
            string hash = BankCsvLayout.Field(fields, layout.Hash).Trim();
            if (!_isHash(hash))
            {
                error = Refused($"{_notAHash}: '{Shown(hash)}'");
                return true;
            }
            int quality = MissingQuality;
            if (layout.Quality >= 0)
            {
                string q = BankCsvLayout.Field(fields, layout.Quality);
                if (!int.TryParse(q.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out quality) || quality > 100)
                {
                    error = Refused($"quality must be 0..100: '{Shown(q)}'");
                    return true;
                }
            }
            string? id = Text(fields, layout.Id);
            string? label = Text(fields, layout.Label);
            string? source = Text(fields, layout.Source) ?? _fallbackSource;
            if (BankText.Refusal(id ?? "", label, source) is { } refused)
            {
                error = Refused(refused);
                return true;
            }
            var addedAt = _now;
            string added = BankCsvLayout.Field(fields, layout.AddedAt);
            if (added.Length > 0 && !BankCsvLayout.TryParseTimestamp(added, out addedAt))
            {
                error = Refused($"added_at is not a timestamp: '{Shown(added)}'");
                return true;
            }
            row = new Row(hash.ToLowerInvariant(), quality, id, label, source, addedAt.ToUniversalTime());
            return true;
        }

        private RowError Refused(string message) => new((int)Math.Min(Line, int.MaxValue), message);
    }

    private static string? Text(List<string> fields, int column) =>
        BankCsvLayout.Field(fields, column) is { Length: > 0 } value ? Unneutralise(value) : null;

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

    /// <summary>Appends a text field as export writes it: cleaned and cut to <paramref name="maxChars"/>, quoted when
    /// needed, a spreadsheet formula neutralised.</summary>
    public static StringBuilder AppendText(StringBuilder line, string? value, int maxChars) => Quote(line, Clean(value, maxChars));

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
