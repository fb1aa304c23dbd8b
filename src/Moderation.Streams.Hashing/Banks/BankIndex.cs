using System.Numerics;
using System.Runtime.CompilerServices;

namespace Moderation.Streams.Hashing.Banks;

/// <summary>
/// An immutable, searchable snapshot of one or more banks: the entries of quality &gt;= the minimum, searched
/// through a <see cref="MultiIndexHashIndex"/>. Safe to search from any thread.
/// </summary>
/// <remarks>
/// A snapshot is a large <em>base</em> segment, the positions of the base removed since it was built, and a small
/// <em>overlay</em> segment of entries added since (see <see cref="LiveBankIndex"/>), entries stored by column (<see cref="BankSegment"/>): a change to a bank makes a new
/// snapshot that shares the base and rebuilds only the overlay, so a one-hash import into a 10M-hash bank costs
/// microseconds, not a rebuild. A search merges both and skips removed positions.
/// </remarks>
public sealed class BankIndex
{
    [ThreadStatic] private static List<IndexHit>? t_baseHits;
    [ThreadStatic] private static List<IndexHit>? t_overlayHits;

    private static readonly ConditionalWeakTable<BankIndex, Dictionary<(string, string), int>> s_frames = new();

    private readonly BankSegment _base;
    private readonly ulong[]? _removed;
    private readonly BankSegment _overlay;

    public BankIndex(IEnumerable<BankEntry> entries, BankMatchOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(entries);
        Options = options ?? BankMatchOptions.Default;
        Options.Validate();
        var all = entries as IReadOnlyCollection<BankEntry> ?? entries.ToList();
        var builder = new BankSegment.Builder(all.Count);
        int total = 0;
        foreach (var e in all)
        {
            if (e.Quality >= Options.MinQuality) builder.Add(e);
            else total++;
        }
        _base = builder.Build(preferIndex: true, out var duplicates);
        // An id given twice: the last one counts, as an import would have it.
        foreach (int at in duplicates) (_removed ??= new ulong[RemovedWords(_base.Count)])[at >> 6] |= 1UL << at;
        RemovedFromBase = duplicates.Count;
        _overlay = BankSegment.Empty;
        Count = _base.Count - duplicates.Count;
        TotalEntries = total + Count;
    }

    internal BankIndex(BankMatchOptions options, BankSegment @base, ulong[]? removed, int removedCount, BankSegment overlay, int totalEntries)
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
                if (!IsRemoved(i)) yield return _base.EntryAt(i);
            for (int i = 0; i < _overlay.Count; i++) yield return _overlay.EntryAt(i);
        }
    }

    /// <summary>Bytes of native memory held by the segments' indexes (hashes, tables, bucket starts).</summary>
    public long MemoryBytes => _base.MemoryBytes + _overlay.MemoryBytes;

    /// <summary>Managed bytes of the entries' columns and position tables (array payloads).</summary>
    public long ColumnBytes => _base.ColumnBytes + _overlay.ColumnBytes + 8L * (_removed?.Length ?? 0);

    internal BankSegment Base => _base;

    internal BankSegment Overlay => _overlay;

    /// <summary>Frames of a banked video (entries <c>{video}#t=…</c> of that bank) searched in this snapshot.</summary>
    public int FramesOf(string bank, string video)
    {
        var counts = s_frames.GetValue(this, static index =>
        {
            var result = new Dictionary<(string, string), int>(index._base.Frames());
            for (int w = 0; index._removed is { } removed && w < removed.Length; w++)
                for (ulong bits = removed[w]; bits != 0; bits &= bits - 1)
                    Count(result, index._base.BankAt(w * 64 + BitOperations.TrailingZeroCount(bits)), index._base.IdAt(w * 64 + BitOperations.TrailingZeroCount(bits)), -1);
            for (int i = 0; i < index._overlay.Count; i++) Count(result, index._overlay.BankAt(i), index._overlay.IdAt(i), +1);
            return result;
        });
        return counts.GetValueOrDefault((bank, video));

        static void Count(Dictionary<(string, string), int> counts, string bank, string id, int by)
        {
            if (VideoMatcher.VideoIdOf(id) is { } v) counts[(bank, v)] = counts.GetValueOrDefault((bank, v)) + by;
        }
    }

    internal bool IsRemoved(int basePosition) => _removed is { } r && (r[basePosition >> 6] & (1UL << basePosition)) != 0;

    /// <summary>Every entry matching <paramref name="hash"/>, nearest first (then by bank and id); for dihedral
    /// matching pass <paramref name="dihedral"/> (its <c>Original</c> is not used: <paramref name="hash"/> is).
    /// An entry matched by several transforms is listed once, with its nearest.</summary>
    public List<BankMatch> FindAll(PdqHash hash, int quality, PdqDihedral? dihedral = null)
    {
        var matches = new List<BankMatch>();
        if (quality < Options.MinQuality || Count == 0) return matches;
        // Keyed by place (base position, or the overlay's as ~position): an entry is made once, for its nearest hit.
        var best = new Dictionary<int, (int Distance, PdqTransform Transform)>();
        foreach (var (query, transform) in Queries(hash, dihedral))
        {
            var (baseHits, overlayHits) = Search(query);
            foreach (var hit in baseHits)
                if (!IsRemoved(hit.Position)) Keep(hit.Position, hit.Distance, transform);
            foreach (var hit in overlayHits) Keep(~hit.Position, hit.Distance, transform);
        }
        foreach (var (at, (distance, transform)) in best)
            matches.Add(new BankMatch(at >= 0 ? _base.EntryAt(at) : _overlay.EntryAt(~at), distance, transform));
        matches.Sort(static (a, b) =>
        {
            int c = a.Distance.CompareTo(b.Distance);
            if (c == 0) c = string.CompareOrdinal(a.Bank, b.Bank);
            return c != 0 ? c : string.CompareOrdinal(a.Id, b.Id);
        });
        return matches;

        void Keep(int at, int distance, PdqTransform transform)
        {
            if (!best.TryGetValue(at, out var known) || distance < known.Distance) best[at] = (distance, transform);
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
                if (!IsRemoved(hit.Position)) Keep(_base, hit.Position, hit.Distance, transform);
            foreach (var hit in overlayHits) Keep(_overlay, hit.Position, hit.Distance, transform);
        }
        return best;

        void Keep(BankSegment segment, int at, int distance, PdqTransform transform)
        {
            if (best is { } b && distance > b.Distance) return;
            var entry = segment.EntryAt(at);
            if (best is not { } known || distance < known.Distance || Before(entry, known.Entry))
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

    internal static int RemovedWords(int count) => (count + 63) >> 6;
}
