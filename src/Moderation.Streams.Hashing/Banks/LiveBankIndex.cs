namespace Moderation.Streams.Hashing.Banks;

/// <summary>
/// The banks a worker holds, changed entry by entry and published as immutable <see cref="BankIndex"/> snapshots.
/// One writer (the sync loop); any number of readers of <see cref="Current"/>.
/// </summary>
/// <remarks>
/// A change touches only what changed: an added or replaced entry goes to the snapshot's overlay (scanned while
/// small, indexed beyond <see cref="BankSegment.ScanLimit"/>), a removed one is marked in the base's removed
/// set, and <see cref="Publish"/> makes the next snapshot, sharing the base. When the overlay outgrows
/// <see cref="OverlayLimit"/> (an eighth of the base, at least <see cref="MinOverlayLimit"/>) or a quarter of the base
/// is removed, the publish compacts: every live entry into a new base, once. Changes between publishes are not
/// visible to readers, so a writer can apply a bank's whole catch-up and publish once. Base entries are found by
/// the base's own position table: no dictionary of ids (10M strings would cost more than the index).
/// </remarks>
public sealed class LiveBankIndex
{
    /// <summary>The overlay may always hold this many entries before a compaction.</summary>
    public const int MinOverlayLimit = 65_536;

    private readonly int _minOverlayLimit;
    private readonly Dictionary<string, int> _counts = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Bank, string Id), BankEntry> _overlay = [];
    // Quality under the minimum: held (a later import may replace them) but never searched.
    private readonly Dictionary<(string Bank, string Id), BankEntry> _unsearched = [];
    private BankSegment _base = BankSegment.Empty;
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

    /// <summary>The banks held (with entries, or replaced by an empty copy).</summary>
    public IReadOnlyCollection<string> Banks => _counts.Keys;

    /// <summary>Entries of a bank (searched or not).</summary>
    public int CountOf(string bank) => _counts.GetValueOrDefault(bank);

    /// <summary>The entry held under this id, or null.</summary>
    public BankEntry? Find(string bank, string id)
    {
        if (!_counts.ContainsKey(bank)) return null;
        if (_overlay.TryGetValue((bank, id), out var entry) || _unsearched.TryGetValue((bank, id), out entry)) return entry;
        int at = BasePosition(bank, id);
        return at < 0 ? null : _base.EntryAt(at);
    }

    /// <summary>Adds or replaces entries (by bank and id). An entry equal to the one held changes nothing.</summary>
    public void Upsert(IEnumerable<BankEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        foreach (var entry in entries)
        {
            var held = Find(entry.Bank, entry.Id);
            if (held is not null)
            {
                if (held == entry) continue;
                Drop(entry.Bank, entry.Id);
            }
            else
            {
                _total++;
                _counts[entry.Bank] = _counts.GetValueOrDefault(entry.Bank) + 1;
            }
            if (entry.Quality >= Options.MinQuality)
            {
                _overlay[(entry.Bank, entry.Id)] = entry;
                _overlayChanged = true;
            }
            else
            {
                _unsearched[(entry.Bank, entry.Id)] = entry;
            }
            Dirty = true;
        }
    }

    /// <summary>Removes entries by id; ids not held are ignored. Returns how many were held.</summary>
    public int Remove(string bank, IEnumerable<string> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        if (!_counts.ContainsKey(bank)) return 0;
        int removed = 0;
        foreach (var id in ids)
        {
            if (!Drop(bank, id)) continue;
            _total--;
            _counts[bank]--;
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
        foreach (var entry in entries)
            if (entry.Bank != bank) throw new ArgumentException($"entry {entry.Id} belongs to bank {entry.Bank}, not {bank}", nameof(entries));
        if (_total == 0 && entries.Count > BankSegment.ScanLimit)
        {
            // A first load: straight into the base rather than through the overlay.
            Load(bank, entries);
            return entries.Count;
        }
        // Base entries are compared in place and ticked off, so only what differs is ever made into an object.
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        var seen = new ulong[BankIndex.RemovedWords(_base.Count)];
        var changed = new List<BankEntry>();
        foreach (var entry in entries)
        {
            int at = _overlay.ContainsKey((bank, entry.Id)) || _unsearched.ContainsKey((bank, entry.Id)) ? -1 : BasePosition(bank, entry.Id);
            if (at >= 0)
            {
                seen[at >> 6] |= 1UL << at;
                if (!_base.SameContent(at, entry)) changed.Add(entry);
                continue;
            }
            if (wanted.Add(entry.Id) && Find(bank, entry.Id) != entry) changed.Add(entry);
        }
        var gone = new List<string>();
        for (int i = 0; i < _base.Count; i++)
            if ((seen[i >> 6] & (1UL << i)) == 0 && !IsRemoved(i) && _base.BankAt(i) == bank) gone.Add(_base.IdAt(i));
        foreach (var (b, id) in _overlay.Keys.Concat(_unsearched.Keys))
            if (b == bank && !wanted.Contains(id)) gone.Add(id);
        Upsert(changed);
        Remove(bank, gone);
        _counts.TryAdd(bank, 0);
        return changed.Count + gone.Count;
    }

    /// <summary>Nothing held (no entry, searched or not).</summary>
    public bool IsEmpty => _total == 0;

    /// <summary>Starts loading a bank into an empty index entry by entry (a first load streamed from the store, never
    /// a list of every entry); nothing changes until <see cref="Loader.Complete"/>, so an abandoned load leaves no trace.</summary>
    /// <exception cref="InvalidOperationException">The index is not empty (use <see cref="Replace"/>).</exception>
    public Loader BeginLoad(string bank, int capacity = 0)
    {
        if (!IsEmpty) throw new InvalidOperationException("a bank can be streamed in only while the index is empty");
        return new Loader(this, bank, capacity);
    }

    /// <summary>A first load in progress (see <see cref="BeginLoad"/>).</summary>
    public sealed class Loader
    {
        private readonly LiveBankIndex _owner;
        private readonly string _bank;
        private readonly BankSegment.Builder _builder;
        private readonly Dictionary<(string Bank, string Id), BankEntry> _unsearched = [];

        internal Loader(LiveBankIndex owner, string bank, int capacity)
        {
            _owner = owner;
            _bank = bank;
            _builder = new BankSegment.Builder(capacity);
        }

        public int Count { get; private set; }

        public void Add(BankEntry entry)
        {
            if (entry.Bank != _bank) throw new ArgumentException($"entry {entry.Id} belongs to bank {entry.Bank}, not {_bank}", nameof(entry));
            if (entry.Quality >= _owner.Options.MinQuality) _builder.Add(entry);
            else _unsearched[(entry.Bank, entry.Id)] = entry;
            Count++;
        }

        /// <summary>Makes the loaded entries the index's (published at the next <see cref="Publish"/>).</summary>
        public void Complete()
        {
            if (!_owner.IsEmpty) throw new InvalidOperationException("the index changed during the load");
            _owner.Load(_bank, _builder, _unsearched);
        }
    }

    /// <summary>Drops a whole bank. Returns how many entries it held.</summary>
    public int RemoveBank(string bank)
    {
        if (!_counts.ContainsKey(bank)) return 0;
        int count = Remove(bank, HeldIds(bank).ToList());
        _counts.Remove(bank);
        Dirty = true;
        return count;
    }

    /// <summary>Publishes the changes made since the last publish as a new snapshot (compacting first when the
    /// overlay or the removed set has grown too large). Returns the snapshot.</summary>
    public BankIndex Publish()
    {
        if (_overlay.Count > OverlayLimit || (_removedCount > 0 && _removedCount > _base.Count / 4)) Compact();
        BankSegment overlay;
        if (_overlayChanged)
        {
            var builder = new BankSegment.Builder(_overlay.Count);
            foreach (var e in _overlay.Values) builder.Add(e);
            overlay = builder.Build(preferIndex: false, out _);
        }
        else
        {
            overlay = _current.Overlay;
        }
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
        var builder = new BankSegment.Builder(_base.Count - _removedCount + _overlay.Count);
        for (int i = 0; i < _base.Count; i++)
            if (!IsRemoved(i)) builder.Add(_base, i);
        foreach (var e in _overlay.Values) builder.Add(e);
        _overlay.Clear();
        SetBase(builder);
        Compactions++;
    }

    // Empty index: every entry straight into a new base (an id given twice: the last counts).
    private void Load(string bank, IReadOnlyCollection<BankEntry> entries)
    {
        var loader = BeginLoad(bank, entries.Count);
        foreach (var entry in entries) loader.Add(entry);
        loader.Complete();
    }

    private void Load(string bank, BankSegment.Builder builder, Dictionary<(string Bank, string Id), BankEntry> unsearched)
    {
        SetBase(builder);
        // An id both under and over the minimum quality (a scan handed it over twice, changed in between): the searched one stays.
        foreach (var (key, entry) in unsearched)
            if (BasePosition(key.Bank, key.Id) < 0) _unsearched[key] = entry;
        _total = _base.Count - _removedCount + _unsearched.Count;
        _counts[bank] = _total;
    }

    private void SetBase(BankSegment.Builder builder)
    {
        _base = builder.Build(preferIndex: true, out var duplicates);
        _removed = null;
        _removedCount = 0;
        _removedShared = false;
        foreach (int at in duplicates) MarkRemoved(at);
        _overlayChanged = true;
        Dirty = true;
    }

    // The ids a bank holds: its base entries not removed, its overlay's and its unsearched.
    private IEnumerable<string> HeldIds(string bank)
    {
        for (int i = 0; i < _base.Count; i++)
            if (!IsRemoved(i) && _base.BankAt(i) == bank) yield return _base.IdAt(i);
        foreach (var (b, id) in _overlay.Keys)
            if (b == bank) yield return id;
        foreach (var (b, id) in _unsearched.Keys)
            if (b == bank) yield return id;
    }

    // The live base position of an id, or -1 (not in the base, or removed from it).
    private int BasePosition(string bank, string id)
    {
        int at = _base.Find(bank, id);
        return at >= 0 && !IsRemoved(at) ? at : -1;
    }

    // Forgets where an entry lives; false when it is not held.
    private bool Drop(string bank, string id)
    {
        if (_overlay.Remove((bank, id)))
        {
            _overlayChanged = true;
            return true;
        }
        if (_unsearched.Remove((bank, id))) return true;
        int at = BasePosition(bank, id);
        if (at < 0) return false;
        MarkRemoved(at);
        return true;
    }

    private void MarkRemoved(int at)
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

    private bool IsRemoved(int position) => _removed is { } r && (r[position >> 6] & (1UL << position)) != 0;
}
