using System.Collections.Immutable;
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
/// (one per bank) are joined by <see cref="Combine"/> without being built again; a bank's index takes a change by
/// <see cref="With"/>, which shares the tables built for the bank and keeps only what changed since in small persistent
/// maps beside them (rebuilt into new tables once those outgrow an eighth of the bank).</summary>
public sealed class DigestIndex
{
    /// <summary>Entries changed since the tables were built beyond which <see cref="With"/> builds them again (or an
    /// eighth of the bank, whichever is more).</summary>
    public const int MinOverlayBeforeRebuild = 4096;

    // One part per index joined (a single one when built from entries): each computed digest is looked up in each.
    private readonly Part[] _parts;

    public DigestIndex(IEnumerable<DigestEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        _parts = [Part.Build(entries.ToList())];
        Count = _parts[0].Count;
        (HasMd5, HasSha256) = (_parts[0].Md5Count > 0, _parts[0].Sha256Count > 0);
    }

    private DigestIndex(Part[] parts)
    {
        _parts = parts;
        Count = parts.Sum(p => p.Count);
        (HasMd5, HasSha256) = (parts.Any(p => p.Md5Count > 0), parts.Any(p => p.Sha256Count > 0));
    }

    public static DigestIndex Empty { get; } = new(Array.Empty<DigestEntry>());

    /// <summary>One index over the entries of every part (as if built from them all; the parts' tables are shared, not
    /// copied). Meant for a few parts, one per bank: a lookup costs one dictionary probe per part.</summary>
    public static DigestIndex Combine(IEnumerable<DigestIndex> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        return new DigestIndex([.. parts.SelectMany(p => p._parts).Where(p => p.Count > 0)]);
    }

    public int Count { get; }

    public bool HasMd5 { get; }
    public bool HasSha256 { get; }

    /// <summary>Entries changed since this index's tables were built (0 for an index built from entries).</summary>
    public int OverlayCount => _parts.Sum(p => p.OverlayCount);

    /// <summary>Every entry, in no particular order.</summary>
    public IEnumerable<DigestEntry> Entries => _parts.SelectMany(p => p.Entries());

    /// <summary>This index (of one bank's entries) as it is once the entries of <paramref name="current"/> are as given:
    /// an id mapped to an entry is added or replaced, one mapped to null removed. This index is not changed (readers
    /// may go on using it); the new one shares its tables.</summary>
    /// <exception cref="ArgumentException">An entry of another bank than <paramref name="bank"/>, or under another id.</exception>
    /// <exception cref="InvalidOperationException">This index holds entries of another bank, or of several.</exception>
    public DigestIndex With(string bank, IReadOnlyDictionary<string, DigestEntry?> current)
    {
        ArgumentException.ThrowIfNullOrEmpty(bank);
        ArgumentNullException.ThrowIfNull(current);
        foreach (var (id, entry) in current)
            if (entry is not null && (entry.Bank != bank || entry.Id != id))
                throw new ArgumentException($"entry {entry.Bank}/{entry.Id} given as {bank}/{id}", nameof(current));
        var part = _parts.Length switch
        {
            0 => Part.Build([]),
            1 => _parts[0],
            _ => throw new InvalidOperationException("an index joined from several is changed through the indexes it joins"),
        };
        if ((part.BaseCount > 0 || part.OverlayCount > 0) && part.Bank != bank)
            throw new InvalidOperationException($"this index holds {(part.Bank is null ? "entries of several banks" : $"bank {part.Bank}")}, not {bank}");
        var next = part.With(bank, current);
        if (next.OverlayCount > Math.Max(MinOverlayBeforeRebuild, next.BaseCount / 8)) next = Part.Build([.. next.Entries()]);
        return new DigestIndex([next]);
    }

    /// <summary>The entries listing the bytes' digests (MD5 and SHA-256, each computed only when some bank holds that
    /// kind), the first of each bank by id; empty when none.</summary>
    public List<DigestEntry> Match(ReadOnlySpan<byte> bytes)
    {
        var found = new List<DigestEntry>();
        if (!HasSha256 && !HasMd5) return found;
        string? sha256 = HasSha256 ? DigestKinds.Compute(DigestKinds.Sha256, bytes) : null;
        string? md5 = HasMd5 ? DigestKinds.Compute(DigestKinds.Md5, bytes) : null;
        foreach (var part in _parts)
        {
            if (sha256 is not null && part.Sha256Count > 0) found.AddRange(part.Find(DigestKinds.Sha256, sha256));
            if (md5 is not null && part.Md5Count > 0) found.AddRange(part.Find(DigestKinds.Md5, md5));
        }
        if (found.Count == 0) return found;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return [.. found.OrderBy(e => e.Bank, StringComparer.Ordinal).ThenBy(e => e.Id, StringComparer.Ordinal).Where(e => seen.Add(e.Bank))];
    }

    /// <summary>Tables built once (digest → entries of each kind, id → entry) and, beside them, what changed since:
    /// digest → its entries now and id → its entry now (null: removed), persistent maps that a change copies a path of,
    /// never the whole. Never changed once made.</summary>
    private sealed class Part
    {
        private static readonly ImmutableDictionary<string, DigestEntry[]> NoDigests = ImmutableDictionary.Create<string, DigestEntry[]>(StringComparer.Ordinal);
        private static readonly ImmutableDictionary<string, DigestEntry?> NoIds = ImmutableDictionary.Create<string, DigestEntry?>(StringComparer.Ordinal);

        private readonly Dictionary<string, DigestEntry[]> _md5, _sha256;
        // Null when the entries are of several banks (ids are unique only within a bank): such a part is never changed.
        private readonly Dictionary<string, DigestEntry>? _byId;
        private readonly ImmutableDictionary<string, DigestEntry[]> _changedMd5, _changedSha256;
        private readonly ImmutableDictionary<string, DigestEntry?> _changedIds;

        private Part(Dictionary<string, DigestEntry[]> md5, Dictionary<string, DigestEntry[]> sha256, Dictionary<string, DigestEntry>? byId, string? bank,
            int baseCount, ImmutableDictionary<string, DigestEntry[]> changedMd5, ImmutableDictionary<string, DigestEntry[]> changedSha256,
            ImmutableDictionary<string, DigestEntry?> changedIds, int md5Count, int sha256Count)
        {
            (_md5, _sha256, _byId, Bank, BaseCount) = (md5, sha256, byId, bank, baseCount);
            (_changedMd5, _changedSha256, _changedIds) = (changedMd5, changedSha256, changedIds);
            (Md5Count, Sha256Count) = (md5Count, sha256Count);
        }

        public string? Bank { get; }
        public int BaseCount { get; }
        public int Md5Count { get; }
        public int Sha256Count { get; }
        public int Count => Md5Count + Sha256Count;
        public int OverlayCount => _changedIds.Count;

        public static Part Build(List<DigestEntry> all)
        {
            string? bank = all.Count > 0 ? all[0].Bank : null;
            Dictionary<string, DigestEntry>? byId = null;
            if (bank is not null && all.TrueForAll(e => e.Bank == bank))
            {
                byId = new Dictionary<string, DigestEntry>(all.Count, StringComparer.Ordinal);
                foreach (var e in all) byId[e.Id] = e; // a later entry under the same id replaces an earlier one
                if (byId.Count != all.Count) all = [.. byId.Values];
            }
            else bank = null;
            var md5 = Group(all, DigestKinds.Md5);
            var sha256 = Group(all, DigestKinds.Sha256);
            return new Part(md5, sha256, byId, bank, all.Count, NoDigests, NoDigests, NoIds,
                all.Count(e => e.Kind == DigestKinds.Md5), all.Count(e => e.Kind == DigestKinds.Sha256));
        }

        public IEnumerable<DigestEntry> Find(string kind, string digest)
        {
            var (changed, built) = kind == DigestKinds.Md5 ? (_changedMd5, _md5) : (_changedSha256, _sha256);
            if (changed.TryGetValue(digest, out var now)) return now;
            return built.TryGetValue(digest, out var entries) ? entries : [];
        }

        public IEnumerable<DigestEntry> Entries()
        {
            if (_byId is null) return _md5.Values.Concat(_sha256.Values).SelectMany(e => e);
            return _byId.Values.Where(e => !_changedIds.ContainsKey(e.Id)).Concat(_changedIds.Values.OfType<DigestEntry>());
        }

        public Part With(string bank, IReadOnlyDictionary<string, DigestEntry?> current)
        {
            var (md5, sha256, ids) = (_changedMd5.ToBuilder(), _changedSha256.ToBuilder(), _changedIds.ToBuilder());
            int md5Count = Md5Count, sha256Count = Sha256Count;
            foreach (var (id, entry) in current)
            {
                var before = ids.TryGetValue(id, out var changed) ? changed : _byId?.GetValueOrDefault(id);
                if (before == entry) continue;
                if (before is not null)
                {
                    var table = before.Kind == DigestKinds.Md5 ? md5 : sha256;
                    table[before.Digest] = [.. Now(table, before.Kind, before.Digest).Where(e => e.Id != id)];
                    if (before.Kind == DigestKinds.Md5) md5Count--; else sha256Count--;
                }
                if (entry is not null)
                {
                    var table = entry.Kind == DigestKinds.Md5 ? md5 : sha256;
                    table[entry.Digest] = [.. Now(table, entry.Kind, entry.Digest), entry];
                    if (entry.Kind == DigestKinds.Md5) md5Count++; else sha256Count++;
                }
                ids[id] = entry;
            }
            var byId = _byId ?? (Count == 0 ? new Dictionary<string, DigestEntry>(StringComparer.Ordinal) : null);
            return new Part(_md5, _sha256, byId, bank, BaseCount, md5.ToImmutable(), sha256.ToImmutable(), ids.ToImmutable(), md5Count, sha256Count);
        }

        // A digest's entries as the changes so far leave them.
        private IEnumerable<DigestEntry> Now(ImmutableDictionary<string, DigestEntry[]>.Builder changed, string kind, string digest)
        {
            if (changed.TryGetValue(digest, out var now)) return now;
            return (kind == DigestKinds.Md5 ? _md5 : _sha256).TryGetValue(digest, out var built) ? built : [];
        }

        private static Dictionary<string, DigestEntry[]> Group(List<DigestEntry> all, string kind) =>
            all.Where(e => e.Kind == kind).GroupBy(e => e.Digest, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
    }
}
