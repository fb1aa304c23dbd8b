using System.Numerics;

namespace Moderation.Streams.Hashing.Banks;

/// <summary>
/// An immutable, searchable snapshot of one or more banks: the entries of quality &gt;= the minimum, searched
/// through a <see cref="MultiIndexHashIndex"/>. Safe to search from any thread.
/// </summary>
/// <remarks>
/// A snapshot is a large <em>base</em> segment, the positions of the base removed since it was built, and a small
/// <em>overlay</em> segment of entries added since (see <see cref="LiveBankIndex"/>): a change to a bank makes a new
/// snapshot that shares the base and rebuilds only the overlay, so a one-hash import into a 10M-hash bank costs
/// microseconds, not a rebuild. A search merges both and skips removed positions.
/// </remarks>
public sealed class BankIndex
{
    [ThreadStatic] private static List<IndexHit>? t_baseHits;
    [ThreadStatic] private static List<IndexHit>? t_overlayHits;

    private readonly Segment _base;
    private readonly ulong[]? _removed;
    private readonly Segment _overlay;

    public BankIndex(IEnumerable<BankEntry> entries, BankMatchOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(entries);
        Options = options ?? BankMatchOptions.Default;
        Options.Validate();
        var all = entries as IReadOnlyCollection<BankEntry> ?? entries.ToList();
        TotalEntries = all.Count;
        _base = Segment.Build(all.Where(e => e.Quality >= Options.MinQuality).ToArray(), preferIndex: true);
        _overlay = Segment.Empty;
        Count = _base.Count;
    }

    internal BankIndex(BankMatchOptions options, Segment @base, ulong[]? removed, int removedCount, Segment overlay, int totalEntries)
    {
        Options = options;
        _base = @base;
        _removed = removedCount == 0 ? null : removed;
        RemovedFromBase = removedCount;
        _overlay = overlay;
        Count = @base.Count - removedCount + overlay.Count;
        TotalEntries = totalEntries;
    }

    public static BankIndex Empty { get; } = new([]);

    public BankMatchOptions Options { get; }

    /// <summary>Entries searched (quality at or above the minimum).</summary>
    public int Count { get; }

    /// <summary>Entries given, including those too low in quality to be searched.</summary>
    public int TotalEntries { get; }

    /// <summary>Entries in the base segment (built in one go; see the remarks).</summary>
    public int BaseCount => _base.Count;

    /// <summary>Base entries removed since the base was built (still in its memory, skipped by searches).</summary>
    public int RemovedFromBase { get; }

    /// <summary>Entries added since the base was built, searched beside it.</summary>
    public int OverlayCount => _overlay.Count;

    /// <summary>The entries searched (quality at or above the minimum): the base's not removed, then the overlay's.</summary>
    public IEnumerable<BankEntry> Entries
    {
        get
        {
            for (int i = 0; i < _base.Count; i++)
                if (!IsRemoved(i)) yield return _base.Entries[i];
            foreach (var e in _overlay.Entries) yield return e;
        }
    }

    /// <summary>Bytes of native memory held by the segments' indexes (hashes, tables, bucket starts).</summary>
    public long MemoryBytes => _base.MemoryBytes + _overlay.MemoryBytes;

    internal Segment Base => _base;

    internal ulong[]? Removed => _removed;

    internal Segment Overlay => _overlay;

    internal bool IsRemoved(int basePosition) => _removed is { } r && (r[basePosition >> 6] & (1UL << basePosition)) != 0;

    /// <summary>Every entry matching <paramref name="hash"/>, nearest first (then by bank and id); for dihedral
    /// matching pass <paramref name="dihedral"/> (its <c>Original</c> is not used: <paramref name="hash"/> is).
    /// An entry matched by several transforms is listed once, with its nearest.</summary>
    public List<BankMatch> FindAll(PdqHash hash, int quality, PdqDihedral? dihedral = null)
    {
        var matches = new List<BankMatch>();
        if (quality < Options.MinQuality || Count == 0) return matches;
        var best = new Dictionary<BankEntry, BankMatch>(ReferenceEqualityComparer.Instance);
        foreach (var (query, transform) in Queries(hash, dihedral))
        {
            var (baseHits, overlayHits) = Search(query);
            foreach (var hit in baseHits)
                if (!IsRemoved(hit.Position)) Keep(_base.Entries[hit.Position], hit.Distance, transform);
            foreach (var hit in overlayHits) Keep(_overlay.Entries[hit.Position], hit.Distance, transform);
        }
        matches.AddRange(best.Values);
        matches.Sort(static (a, b) =>
        {
            int c = a.Distance.CompareTo(b.Distance);
            if (c == 0) c = string.CompareOrdinal(a.Bank, b.Bank);
            return c != 0 ? c : string.CompareOrdinal(a.Id, b.Id);
        });
        return matches;

        void Keep(BankEntry entry, int distance, PdqTransform transform)
        {
            if (!best.TryGetValue(entry, out var known) || distance < known.Distance)
                best[entry] = new BankMatch(entry, distance, transform);
        }
    }

    /// <summary>The nearest match, or null; allocates nothing when nothing matches.</summary>
    public BankMatch? FindBest(PdqHash hash, int quality, PdqDihedral? dihedral = null)
    {
        if (quality < Options.MinQuality || Count == 0) return null;
        BankMatch? best = null;
        foreach (var (query, transform) in Queries(hash, dihedral))
        {
            var (baseHits, overlayHits) = Search(query);
            foreach (var hit in baseHits)
                if (!IsRemoved(hit.Position)) Keep(_base.Entries[hit.Position], hit.Distance, transform);
            foreach (var hit in overlayHits) Keep(_overlay.Entries[hit.Position], hit.Distance, transform);
        }
        return best;

        void Keep(BankEntry entry, int distance, PdqTransform transform)
        {
            if (best is not { } b || distance < b.Distance || (distance == b.Distance && Before(entry, b.Entry)))
                best = new BankMatch(entry, distance, transform);
        }
    }

    private static bool Before(BankEntry a, BankEntry b)
    {
        int c = string.CompareOrdinal(a.Bank, b.Bank);
        return c < 0 || (c == 0 && string.CompareOrdinal(a.Id, b.Id) < 0);
    }

    // The positions within the radius of one query, in the base (removed ones included) and in the overlay; the
    // lists are the thread's own, valid until its next search.
    private (List<IndexHit> Base, List<IndexHit> Overlay) Search(PdqHash query)
    {
        var baseHits = t_baseHits ??= new List<IndexHit>();
        var overlayHits = t_overlayHits ??= new List<IndexHit>();
        baseHits.Clear();
        overlayHits.Clear();
        _base.Search(query, Options.MaxDistance, baseHits);
        _overlay.Search(query, Options.MaxDistance, overlayHits);
        return (baseHits, overlayHits);
    }

    private IEnumerable<(PdqHash Hash, PdqTransform Transform)> Queries(PdqHash hash, PdqDihedral? dihedral)
    {
        yield return (hash, PdqTransform.Original);
        if (!Options.Dihedral || dihedral is not { } d) yield break;
        for (int t = 1; t < PdqDihedral.Count; t++) yield return (d[(PdqTransform)t], (PdqTransform)t);
    }

    /// <summary>Entries and the structure that searches them: a multi-index for many, a linear scan for few (a
    /// multi-index carries 4 MiB of bucket starts whatever its size; a scan of a few thousand hashes is microseconds).</summary>
    internal sealed class Segment
    {
        /// <summary>Up to this many entries an overlay is scanned rather than indexed.</summary>
        public const int ScanLimit = 4096;

        private readonly MultiIndexHashIndex? _index;
        private readonly BruteForceSearch? _scan;

        private Segment(BankEntry[] entries, MultiIndexHashIndex? index, BruteForceSearch? scan)
        {
            Entries = entries;
            _index = index;
            _scan = scan;
        }

        public static Segment Empty { get; } = new([], null, null);

        public BankEntry[] Entries { get; }

        public int Count => Entries.Length;

        public long MemoryBytes => _index?.MemoryBytes ?? 32L * (_scan?.Count ?? 0);

        public static Segment Build(BankEntry[] entries, bool preferIndex)
        {
            if (entries.Length == 0) return Empty;
            var hashes = new PdqHash[entries.Length];
            for (int i = 0; i < hashes.Length; i++) hashes[i] = entries[i].Hash;
            return preferIndex || entries.Length > ScanLimit
                ? new Segment(entries, MultiIndexHashIndex.Build(hashes), null)
                : new Segment(entries, null, new BruteForceSearch(hashes));
        }

        public void Search(PdqHash query, int maxDistance, List<IndexHit> hits)
        {
            if (_index is not null) _index.Search(query, maxDistance, hits);
            else _scan?.Search(query, maxDistance, hits);
        }
    }

    internal static int RemovedWords(int count) => (count + 63) >> 6;

    internal static int CountRemoved(ulong[]? removed) => removed is null ? 0 : removed.Sum(w => BitOperations.PopCount(w));
}
