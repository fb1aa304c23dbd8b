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
    [ThreadStatic] private static List<IndexHit>? t_hits;

    private static readonly ConditionalWeakTable<BankIndex, Dictionary<(string, string), int>> s_frames = new();

    // Base, then what was added since: at most one multi-indexed middle layer and one small scanned layer.
    private readonly BankLayer[] _layers;

    public BankIndex(IEnumerable<BankEntry> entries, BankMatchOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(entries);
        Options = options ?? BankMatchOptions.Default;
        Options.Validate();
        var all = entries as IReadOnlyCollection<BankEntry> ?? entries.ToList();
        var builder = new BankSegment.Builder(all.Count);
        int unsearched = 0;
        foreach (var e in all)
        {
            if (e.Quality >= Options.MinQuality) builder.Add(e);
            else unsearched++;
        }
        var segment = builder.Build(preferIndex: true, out var duplicates);
        // An id given twice: the last one counts, as an import would have it.
        ulong[]? removed = duplicates.Count == 0 ? null : new ulong[BankLayer.Words(segment.Count)];
        foreach (int at in duplicates) removed![at >> 6] |= 1UL << at;
        _layers = [new BankLayer(segment, removed, duplicates.Count)];
        Count = segment.Count - duplicates.Count;
        TotalEntries = unsearched + Count;
    }

    internal BankIndex(BankMatchOptions options, BankLayer[] layers, int totalEntries)
    {
        Options = options;
        _layers = layers;
        Count = layers.Sum(l => l.LiveCount);
        TotalEntries = totalEntries;
    }

    public static BankIndex Empty { get; } = new([]);

    public BankMatchOptions Options { get; }

    /// <summary>Entries searched (quality at or above the minimum).</summary>
    public int Count { get; }

    /// <summary>Entries given, including those too low in quality to be searched.</summary>
    public int TotalEntries { get; }

    /// <summary>Entries in the base segment (built in one go; see the remarks).</summary>
    public int BaseCount => _layers[0].Segment.Count;

    /// <summary>Base entries removed since the base was built (still in its memory, skipped by searches).</summary>
    public int RemovedFromBase => _layers[0].RemovedCount;

    /// <summary>Entries added since the base was built, searched beside it.</summary>
    public int OverlayCount => Count - _layers[0].LiveCount;

    /// <summary>The entries searched (quality at or above the minimum), layer by layer.</summary>
    public IEnumerable<BankEntry> Entries
    {
        get
        {
            foreach (var layer in _layers)
                for (int i = 0; i < layer.Segment.Count; i++)
                    if (!layer.IsRemoved(i)) yield return layer.Segment.EntryAt(i);
        }
    }

    /// <summary>Bytes of native memory held by the segments' indexes (hashes, tables, bucket starts).</summary>
    public long MemoryBytes => _layers.Sum(l => l.Segment.MemoryBytes);

    /// <summary>Managed bytes of the entries' columns and position tables (array payloads).</summary>
    public long ColumnBytes => _layers.Sum(l => l.Segment.ColumnBytes + 8L * (l.Removed?.Length ?? 0));

    internal BankLayer[] Layers => _layers;

    /// <summary>Frames of a banked video (entries <c>{video}#t=…</c> of that bank) searched in this snapshot.</summary>
    public int FramesOf(string bank, string video)
    {
        var counts = s_frames.GetValue(this, static index =>
        {
            var result = new Dictionary<(string, string), int>();
            foreach (var layer in index._layers)
            {
                foreach (var (key, frames) in layer.Segment.Frames()) result[key] = result.GetValueOrDefault(key) + frames;
                for (int w = 0; layer.Removed is { } removed && w < removed.Length; w++)
                {
                    for (ulong bits = removed[w]; bits != 0; bits &= bits - 1)
                    {
                        int at = w * 64 + BitOperations.TrailingZeroCount(bits);
                        if (VideoMatcher.VideoIdOf(layer.Segment.IdAt(at)) is { } v) result[(layer.Segment.BankAt(at), v)]--;
                    }
                }
            }
            return result;
        });
        return counts.GetValueOrDefault((bank, video));
    }

    /// <summary>Every entry matching <paramref name="hash"/>, nearest first (then by bank and id); for dihedral
    /// matching pass <paramref name="dihedral"/> (its <c>Original</c> is not used: <paramref name="hash"/> is).
    /// An entry matched by several transforms is listed once, with its nearest.</summary>
    public List<BankMatch> FindAll(PdqHash hash, int quality, PdqDihedral? dihedral = null)
    {
        var matches = new List<BankMatch>();
        if (quality < Options.MinQuality || Count == 0) return matches;
        // Keyed by place (layer, position): an entry is made once, for its nearest hit.
        var best = new Dictionary<(int Layer, int Position), (int Distance, PdqTransform Transform)>();
        var hits = t_hits ??= new List<IndexHit>();
        foreach (var (query, transform) in Queries(hash, dihedral))
        {
            for (int l = 0; l < _layers.Length; l++)
            {
                hits.Clear();
                _layers[l].Segment.Search(query, Options.MaxDistance, hits);
                foreach (var hit in hits)
                    if (!_layers[l].IsRemoved(hit.Position) && (!best.TryGetValue((l, hit.Position), out var known) || hit.Distance < known.Distance))
                        best[(l, hit.Position)] = (hit.Distance, transform);
            }
        }
        foreach (var ((l, at), (distance, transform)) in best)
            matches.Add(new BankMatch(_layers[l].Segment.EntryAt(at), distance, transform));
        matches.Sort(static (a, b) =>
        {
            int c = a.Distance.CompareTo(b.Distance);
            if (c == 0) c = string.CompareOrdinal(a.Bank, b.Bank);
            return c != 0 ? c : string.CompareOrdinal(a.Id, b.Id);
        });
        return matches;
    }

    /// <summary>The nearest match, or null; allocates nothing when nothing matches.</summary>
    public BankMatch? FindBest(PdqHash hash, int quality, PdqDihedral? dihedral = null)
    {
        if (quality < Options.MinQuality || Count == 0) return null;
        BankMatch? best = null;
        var hits = t_hits ??= new List<IndexHit>();
        foreach (var (query, transform) in Queries(hash, dihedral))
        {
            foreach (var layer in _layers)
            {
                hits.Clear();
                layer.Segment.Search(query, Options.MaxDistance, hits);
                foreach (var hit in hits)
                {
                    if (layer.IsRemoved(hit.Position) || (best is { } b && hit.Distance > b.Distance)) continue;
                    var entry = layer.Segment.EntryAt(hit.Position);
                    if (best is not { } known || hit.Distance < known.Distance || Before(entry, known.Entry))
                        best = new BankMatch(entry, hit.Distance, transform);
                }
            }
        }
        return best;
    }

    private static bool Before(BankEntry a, BankEntry b)
    {
        int c = string.CompareOrdinal(a.Bank, b.Bank);
        return c < 0 || (c == 0 && string.CompareOrdinal(a.Id, b.Id) < 0);
    }

    private IEnumerable<(PdqHash Hash, PdqTransform Transform)> Queries(PdqHash hash, PdqDihedral? dihedral)
    {
        yield return (hash, PdqTransform.Original);
        if (!Options.Dihedral || dihedral is not { } d) yield break;
        for (int t = 1; t < PdqDihedral.Count; t++) yield return (d[(PdqTransform)t], (PdqTransform)t);
    }
}
