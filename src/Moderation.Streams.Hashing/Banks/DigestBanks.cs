using System.Security.Cryptography;
using System.Text;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Hashing.Banks;

/// <summary>The kinds of exact file-hash bank (<c>bank import --kind md5|sha256</c>): digests of the media bytes as
/// NCMEC-style and StopNCII-style lists give them. A digest matches only the very same bytes: one byte changed and it
/// no longer does (which is why PDQ still matters).</summary>
public static class DigestKinds
{
    public const string Md5 = "md5";
    public const string Sha256 = "sha256";

    public static IReadOnlyList<string> All { get; } = [Md5, Sha256];

    public static bool IsKnown(string? kind) => kind is Md5 or Sha256;

    /// <summary>Hex digits of a digest of <paramref name="kind"/>.</summary>
    public static int HexLength(string kind) => kind switch
    {
        Md5 => 32,
        Sha256 => 64,
        _ => throw new ArgumentException($"kind '{kind}' must be one of {string.Join(", ", All)}", nameof(kind)),
    };

    public static bool IsDigest(string kind, string text) => text.Length == HexLength(kind) && text.All(char.IsAsciiHexDigit);

    /// <summary>Header names of the digest column (the export writes <c>digest</c>).</summary>
    public static IReadOnlyList<string> HashColumns(string kind) => kind == Md5
        ? ["digest", "md5", "md5_hash", "hash", "signal", "signal_value", "hash_value", "raw_indicator", "indicator"]
        : ["digest", "sha256", "sha_256", "sha256_hash", "hash", "signal", "signal_value", "hash_value", "raw_indicator", "indicator"];

    /// <summary>HMA signal types a bank of <paramref name="kind"/> takes from an HMA export.</summary>
    public static IReadOnlyList<string> SignalTypes(string kind) => kind == Md5 ? ["md5", "photo_md5", "video_md5"] : ["sha256"];

    /// <summary>The lower-case hex digest of <paramref name="bytes"/>.</summary>
    public static string Compute(string kind, ReadOnlySpan<byte> bytes) => kind switch
    {
#pragma warning disable CA5351 // MD5 identifies files on lists that are given in MD5; it protects nothing here.
        Md5 => Convert.ToHexStringLower(MD5.HashData(bytes)),
#pragma warning restore CA5351
        Sha256 => Convert.ToHexStringLower(SHA256.HashData(bytes)),
        _ => throw new ArgumentException($"kind '{kind}' must be one of {string.Join(", ", All)}", nameof(kind)),
    };
}

/// <summary>One known file of an exact file-hash bank.</summary>
/// <param name="Kind"><see cref="DigestKinds.Md5"/> or <see cref="DigestKinds.Sha256"/>.</param>
/// <param name="Digest">Lower-case hex.</param>
public sealed record DigestEntry(string Bank, string Kind, string Id, string Digest, string? Label, string? Source, DateTimeOffset AddedAt);

/// <summary>The CSV of an exact file-hash bank: rows <c>digest[,id[,label[,source[,added_at]]]]</c>, or an HMA or
/// ThreatExchange export (<see cref="BankCsvLayout"/>), as the PDQ banks read them. Missing ids become the digest.</summary>
public static class DigestCsv
{
    public const string Header = "digest,id,label,source,added_at";

    /// <exception cref="BankCsvHeaderException">The first row is a header this reader does not know.</exception>
    public static BankCsv.ReadResult<DigestEntry> Read(TextReader reader, string bank, string kind, string? defaultSource, DateTimeOffset now)
    {
        BankNames.Validate(bank);
        int length = DigestKinds.HexLength(kind);
        var rows = BankCsv.ReadRows(reader, DigestKinds.HashColumns(kind), DigestKinds.SignalTypes(kind), text => DigestKinds.IsDigest(kind, text),
            $"not a {length}-hex-digit {kind} digest", defaultSource, now, BankCsvLayout.OwnDigest);
        var entries = rows.Entries.ConvertAll(r => Entry(bank, kind, r));
        return new BankCsv.ReadResult<DigestEntry>(entries, rows.Errors, rows.Layout, rows.SkippedOtherSignalTypes);
    }

    /// <summary>A digest bank CSV read one row at a time (<see cref="BankCsv.RowReader"/>); <see cref="Entry"/> makes each an entry.</summary>
    public static BankCsv.RowReader Rows(TextReader reader, string kind, string? defaultSource, DateTimeOffset now) =>
        new(reader, DigestKinds.HashColumns(kind), DigestKinds.SignalTypes(kind), text => DigestKinds.IsDigest(kind, text),
            $"not a {DigestKinds.HexLength(kind)}-hex-digit {kind} digest", defaultSource, now, BankCsvLayout.OwnDigest);

    /// <summary>The entry of <paramref name="bank"/> a row makes: a missing id becomes the digest.</summary>
    public static DigestEntry Entry(string bank, string kind, BankCsv.Row row)
    {
        ArgumentNullException.ThrowIfNull(row);
        return new DigestEntry(bank, kind, row.Id ?? row.Hash, row.Hash, row.Label, row.Source, row.AddedAt);
    }

    public static void Write(TextWriter writer, IEnumerable<DigestEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(entries);
        writer.WriteLine(Header);
        var line = new StringBuilder(160);
        foreach (var e in entries)
        {
            line.Clear();
            line.Append(e.Digest).Append(',');
            BankCsv.AppendText(line, e.Id, TextLimits.BankIdChars).Append(',');
            BankCsv.AppendText(line, e.Label, TextLimits.BankLabelChars).Append(',');
            BankCsv.AppendText(line, e.Source, TextLimits.BankLabelChars).Append(',');
            line.Append(BankCsv.FormatTimestamp(e.AddedAt));
            writer.WriteLine(line);
        }
    }
}

/// <summary>An immutable lookup of exact file-hash banks: digest → the entries that list it (one per bank at most is
/// reported). Knows which kinds it holds, so a worker computes only the digests some bank can match. Indexes built apart
/// (one per bank) are joined by <see cref="Combine"/> without being built again.</summary>
public sealed class DigestIndex
{
    // One table per index joined (a single one when built from entries): each computed digest is looked up in each.
    private readonly (Dictionary<string, DigestEntry[]> Md5, Dictionary<string, DigestEntry[]> Sha256)[] _tables;

    public DigestIndex(IEnumerable<DigestEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var all = entries.ToList();
        Count = all.Count;
        _tables = [(Group(all, DigestKinds.Md5), Group(all, DigestKinds.Sha256))];
        (HasMd5, HasSha256) = (_tables[0].Md5.Count > 0, _tables[0].Sha256.Count > 0);
    }

    private DigestIndex(IReadOnlyList<DigestIndex> parts)
    {
        _tables = [.. parts.SelectMany(p => p._tables).Where(t => t.Md5.Count + t.Sha256.Count > 0)];
        Count = parts.Sum(p => p.Count);
        (HasMd5, HasSha256) = (_tables.Any(t => t.Md5.Count > 0), _tables.Any(t => t.Sha256.Count > 0));
    }

    public static DigestIndex Empty { get; } = new(Array.Empty<DigestEntry>());

    /// <summary>One index over the entries of every part (as if built from them all; the parts' tables are shared, not
    /// copied). Meant for a few parts, one per bank: a lookup costs one dictionary probe per part.</summary>
    public static DigestIndex Combine(IEnumerable<DigestIndex> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        return new DigestIndex(parts as IReadOnlyList<DigestIndex> ?? [.. parts]);
    }

    public int Count { get; }

    public bool HasMd5 { get; }
    public bool HasSha256 { get; }

    /// <summary>The entries listing the bytes' digests (MD5 and SHA-256, each computed only when some bank holds that
    /// kind), the first of each bank by id; empty when none.</summary>
    public List<DigestEntry> Match(ReadOnlySpan<byte> bytes)
    {
        var found = new List<DigestEntry>();
        if (!HasSha256 && !HasMd5) return found;
        string? sha256 = HasSha256 ? DigestKinds.Compute(DigestKinds.Sha256, bytes) : null;
        string? md5 = HasMd5 ? DigestKinds.Compute(DigestKinds.Md5, bytes) : null;
        foreach (var (md5s, sha256s) in _tables)
        {
            if (sha256 is not null && sha256s.TryGetValue(sha256, out var s)) found.AddRange(s);
            if (md5 is not null && md5s.TryGetValue(md5, out var m)) found.AddRange(m);
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return [.. found.OrderBy(e => e.Bank, StringComparer.Ordinal).ThenBy(e => e.Id, StringComparer.Ordinal).Where(e => seen.Add(e.Bank))];
    }

    private static Dictionary<string, DigestEntry[]> Group(List<DigestEntry> all, string kind) =>
        all.Where(e => e.Kind == kind).GroupBy(e => e.Digest, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
}
