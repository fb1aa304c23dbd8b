namespace Moderation.Streams.Hashing.Banks;

/// <summary>
/// The banks a worker holds, changed entry by entry and published as immutable <see cref="BankIndex"/> snapshots.
/// One writer (the sync loop); any number of readers of <see cref="Current"/>.
/// </summary>
/// <remarks>
/// A change touches only what changed: an added or replaced entry goes to the snapshot's overlay (scanned while
/// small, indexed beyond <see cref="BankIndex.Segment.ScanLimit"/>), a removed one is marked in the base's removed
/// set, and <see cref="Publish"/> makes the next snapshot, sharing the base. When the overlay outgrows
/// <see cref="OverlayLimit"/> (an eighth of the base, at least <see cref="MinOverlayLimit"/>) or a quarter of the base
/// is removed, the publish compacts: every live entry into a new base, once. Changes between publishes are not
/// visible to readers, so a writer can apply a bank's whole catch-up and publish once.
/// </remarks>
public sealed class LiveBankIndex
{
    /// <summary>The overlay may always hold this many entries before a compaction.</summary>
    public const int MinOverlayLimit = 65_536;

    // Where an entry lives: a base position (>= 0), the overlay, or nowhere searched (quality under the minimum).
    private const int InOverlay = -1;
    private const int NotSearched = -2;

    private readonly int _minOverlayLimit;
    private readonly Dictionary<string, Dictionary<string, int>> _banks = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Bank, string Id), BankEntry> _overlay = [];
    private readonly Dictionary<(string Bank, string Id), BankEntry> _unsearched = [];
    private BankIndex.Segment _base = BankIndex.Segment.Empty;
    private ulong[]? _removed;
    private int _removedCount;
    private bool _removedShared;
    private bool _overlayChanged;
    private int _total;
    private BankIndex _current;

    /// <param name="minOverlayLimit">Overlay entries always allowed before a compaction (<see cref="MinOverlayLimit"/>).</param>
    public LiveBankIndex(BankMatchOptions? options = null, int minOverlayLimit = MinOverlayLimit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(minOverlayLimit);
        Options = options ?? BankMatchOptions.Default;
        Options.Validate();
        _minOverlayLimit = minOverlayLimit;
        _current = new BankIndex([], Options);
    }

    public BankMatchOptions Options { get; }

    /// <summary>The snapshot published last.</summary>
    public BankIndex Current => Volatile.Read(ref _current);

    /// <summary>Compactions so far (the base rebuilt from every live entry).</summary>
    public int Compactions { get; private set; }

    /// <summary>Unpublished changes exist.</summary>
    public bool Dirty { get; private set; }

    /// <summary>Overlay entries that trigger a compaction at the next publish.</summary>
    public int OverlayLimit => Math.Max(_minOverlayLimit, _base.Count / 8);

    /// <summary>The banks held (with at least one entry, or replaced by an empty copy).</summary>
    public IReadOnlyCollection<string> Banks => _banks.Keys;

    /// <summary>Entries of a bank (searched or not).</summary>
    public int CountOf(string bank) => _banks.TryGetValue(bank, out var ids) ? ids.Count : 0;

    /// <summary>The entry held under this id, or null.</summary>
    public BankEntry? Find(string bank, string id)
    {
        if (!_banks.TryGetValue(bank, out var ids) || !ids.TryGetValue(id, out int at)) return null;
        return EntryAt(bank, id, at);
    }

    /// <summary>Adds or replaces entries (by bank and id). An entry equal to the one held changes nothing.</summary>
    public void Upsert(IEnumerable<BankEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        foreach (var entry in entries)
        {
            if (!_banks.TryGetValue(entry.Bank, out var ids)) _banks[entry.Bank] = ids = new Dictionary<string, int>(StringComparer.Ordinal);
            if (ids.TryGetValue(entry.Id, out int at))
            {
                if (EntryAt(entry.Bank, entry.Id, at) == entry) continue;
                Drop(entry.Bank, entry.Id, at);
            }
            else
            {
                _total++;
            }
            if (entry.Quality >= Options.MinQuality)
            {
                _overlay[(entry.Bank, entry.Id)] = entry;
                ids[entry.Id] = InOverlay;
                _overlayChanged = true;
            }
            else
            {
                _unsearched[(entry.Bank, entry.Id)] = entry;
                ids[entry.Id] = NotSearched;
            }
            Dirty = true;
        }
    }

    /// <summary>Removes entries by id; ids not held are ignored. Returns how many were held.</summary>
    public int Remove(string bank, IEnumerable<string> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (!_banks.TryGetValue(bank, out var held)) return 0;
        int removed = 0;
        foreach (var id in ids)
        {
            if (!held.Remove(id, out int at)) continue;
            Drop(bank, id, at);
            _total--;
            removed++;
            Dirty = true;
        }
        return removed;
    }

    /// <summary>Makes a bank hold exactly <paramref name="entries"/>: only the differences are applied (a full
    /// re-read that found nothing new changes nothing). Returns the number of entries added, replaced or removed.</summary>
    public int Replace(string bank, IReadOnlyCollection<BankEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var wanted = new HashSet<string>(entries.Count, StringComparer.Ordinal);
        var changed = new List<BankEntry>();
        foreach (var entry in entries)
        {
            if (entry.Bank != bank) throw new ArgumentException($"entry {entry.Id} belongs to bank {entry.Bank}, not {bank}", nameof(entries));
            wanted.Add(entry.Id);
            if (Find(bank, entry.Id) != entry) changed.Add(entry);
        }
        var gone = _banks.TryGetValue(bank, out var held) ? held.Keys.Where(id => !wanted.Contains(id)).ToList() : [];
        if (_total == 0 && changed.Count > BankIndex.Segment.ScanLimit)
        {
            // A first load: straight into the base rather than through the overlay.
            Load(changed);
            return changed.Count;
        }
        Upsert(changed);
        Remove(bank, gone);
        if (!_banks.ContainsKey(bank)) _banks[bank] = new Dictionary<string, int>(StringComparer.Ordinal);
        return changed.Count + gone.Count;
    }

    /// <summary>Drops a whole bank. Returns how many entries it held.</summary>
    public int RemoveBank(string bank)
    {
        if (!_banks.TryGetValue(bank, out var held)) return 0;
        int count = Remove(bank, held.Keys.ToList());
        _banks.Remove(bank);
        Dirty = true;
        return count;
    }

    /// <summary>Publishes the changes made since the last publish as a new snapshot (compacting first when the
    /// overlay or the removed set has grown too large). Returns the snapshot.</summary>
    public BankIndex Publish()
    {
        if (_overlay.Count > OverlayLimit || (_removedCount > 0 && _removedCount > _base.Count / 4)) Compact();
        var overlay = _overlayChanged ? BankIndex.Segment.Build([.. _overlay.Values], preferIndex: false) : _current.Overlay;
        var snapshot = new BankIndex(Options, _base, _removed, _removedCount, overlay, _total);
        _removedShared = true;
        _overlayChanged = false;
        Dirty = false;
        Volatile.Write(ref _current, snapshot);
        return snapshot;
    }

    /// <summary>Rebuilds the base from every live searched entry and empties the overlay and the removed set.</summary>
    public void Compact()
    {
        var live = new List<BankEntry>(_base.Count - _removedCount + _overlay.Count);
        for (int i = 0; i < _base.Count; i++)
            if (!IsRemoved(i)) live.Add(_base.Entries[i]);
        live.AddRange(_overlay.Values);
        SetBase([.. live]);
        Compactions++;
    }

    // Empty index: every entry straight into a new base.
    private void Load(List<BankEntry> entries)
    {
        var searched = new List<BankEntry>(entries.Count);
        foreach (var entry in entries)
        {
            if (!_banks.TryGetValue(entry.Bank, out var ids)) _banks[entry.Bank] = ids = new Dictionary<string, int>(StringComparer.Ordinal);
            if (!ids.TryAdd(entry.Id, NotSearched)) throw new ArgumentException($"entry {entry.Id} of bank {entry.Bank} given twice", nameof(entries));
            _total++;
            if (entry.Quality >= Options.MinQuality) searched.Add(entry);
            else _unsearched[(entry.Bank, entry.Id)] = entry;
        }
        SetBase([.. searched]);
        Dirty = true;
    }

    private void SetBase(BankEntry[] entries)
    {
        _base = BankIndex.Segment.Build(entries, preferIndex: true);
        for (int i = 0; i < entries.Length; i++) _banks[entries[i].Bank][entries[i].Id] = i;
        _overlay.Clear();
        _removed = null;
        _removedCount = 0;
        _removedShared = false;
        _overlayChanged = true;
        Dirty = true;
    }

    private BankEntry EntryAt(string bank, string id, int at) => at switch
    {
        >= 0 => _base.Entries[at],
        InOverlay => _overlay[(bank, id)],
        _ => _unsearched[(bank, id)],
    };

    private void Drop(string bank, string id, int at)
    {
        if (at >= 0)
        {
            if (_removed is null || _removedShared)
            {
                // Published snapshots hold the old set: copy before the first change after a publish.
                var copy = new ulong[BankIndex.RemovedWords(_base.Count)];
                _removed?.CopyTo(copy, 0);
                _removed = copy;
                _removedShared = false;
            }
            _removed[at >> 6] |= 1UL << at;
            _removedCount++;
        }
        else if (at == InOverlay)
        {
            _overlay.Remove((bank, id));
            _overlayChanged = true;
        }
        else
        {
            _unsearched.Remove((bank, id));
        }
    }

    private bool IsRemoved(int position) => _removed is { } r && (r[position >> 6] & (1UL << position)) != 0;
}
