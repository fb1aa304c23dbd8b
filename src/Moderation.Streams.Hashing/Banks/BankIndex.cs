namespace Moderation.Streams.Hashing.Banks;

/// <summary>
/// An immutable, searchable snapshot of one or more banks: the entries of quality &gt;= the minimum in a
/// <see cref="MultiIndexHashIndex"/>. Replaced as a whole when a bank changes; safe to search from any thread.
/// </summary>
public sealed class BankIndex
{
    [ThreadStatic] private static List<IndexHit>? t_hits;

    private readonly BankEntry[] _indexed;
    private readonly MultiIndexHashIndex _index;

    public BankIndex(IEnumerable<BankEntry> entries, BankMatchOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(entries);
        Options = options ?? BankMatchOptions.Default;
        Options.Validate();
        var all = entries as IReadOnlyCollection<BankEntry> ?? entries.ToList();
        TotalEntries = all.Count;
        _indexed = all.Where(e => e.Quality >= Options.MinQuality).ToArray();
        var hashes = new PdqHash[_indexed.Length];
        for (int i = 0; i < hashes.Length; i++) hashes[i] = _indexed[i].Hash;
        _index = MultiIndexHashIndex.Build(hashes);
    }

    public static BankIndex Empty { get; } = new([]);

    public BankMatchOptions Options { get; }

    /// <summary>Entries searched (quality at or above the minimum).</summary>
    public int Count => _indexed.Length;

    /// <summary>Entries given, including those too low in quality to be searched.</summary>
    public int TotalEntries { get; }

    /// <summary>The entries searched (quality at or above the minimum), in index order.</summary>
    public IReadOnlyList<BankEntry> Entries => _indexed;

    public long MemoryBytes => _index.MemoryBytes;

    /// <summary>Every entry matching <paramref name="hash"/>, nearest first (then by bank and id); for dihedral
    /// matching pass <paramref name="dihedral"/> (its <c>Original</c> is not used: <paramref name="hash"/> is).
    /// An entry matched by several transforms is listed once, with its nearest.</summary>
    public List<BankMatch> FindAll(PdqHash hash, int quality, PdqDihedral? dihedral = null)
    {
        var matches = new List<BankMatch>();
        if (quality < Options.MinQuality || Count == 0) return matches;
        var hits = t_hits ??= new List<IndexHit>();
        var best = new Dictionary<int, BankMatch>();
        foreach (var (query, transform) in Queries(hash, dihedral))
        {
            hits.Clear();
            _index.Search(query, Options.MaxDistance, hits);
            foreach (var hit in hits)
                if (!best.TryGetValue(hit.Position, out var known) || hit.Distance < known.Distance)
                    best[hit.Position] = new BankMatch(_indexed[hit.Position], hit.Distance, transform);
        }
        matches.AddRange(best.Values);
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
        var hits = t_hits ??= new List<IndexHit>();
        BankMatch? best = null;
        foreach (var (query, transform) in Queries(hash, dihedral))
        {
            hits.Clear();
            _index.Search(query, Options.MaxDistance, hits);
            foreach (var hit in hits)
            {
                var entry = _indexed[hit.Position];
                if (best is not { } b || hit.Distance < b.Distance
                    || (hit.Distance == b.Distance && string.CompareOrdinal(entry.Bank + "\0" + entry.Id, b.Bank + "\0" + b.Id) < 0))
                    best = new BankMatch(entry, hit.Distance, transform);
            }
        }
        return best;
    }

    private IEnumerable<(PdqHash Hash, PdqTransform Transform)> Queries(PdqHash hash, PdqDihedral? dihedral)
    {
        yield return (hash, PdqTransform.Original);
        if (!Options.Dihedral || dihedral is not { } d) yield break;
        for (int t = 1; t < PdqDihedral.Count; t++) yield return (d[(PdqTransform)t], (PdqTransform)t);
    }
}
