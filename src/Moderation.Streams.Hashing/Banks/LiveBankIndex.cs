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
    // The newest entries, scanned: rebuilt at every publish that changed them, so kept small.
    private readonly Dictionary<(string Bank, string Id), BankEntry> _overlay = [];
    // Quality under the minimum: held (a later import may replace them) but never searched.
    private readonly Dictionary<(string Bank, string Id), BankEntry> _unsearched = [];
    // The base and the middle layer (the small layer's entries merged when it outgrows a scan), each with its removed set.
    private readonly Level _base = new();
    private readonly Level _middle = new();
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

    /// <summary>Entries added since the base was built (middle and small layers) that trigger a compaction at the next publish.</summary>
    public int OverlayLimit => Math.Max(_minOverlayLimit, _base.Segment.Count / 8);

    /// <summary>The banks held (with entries, or replaced by an empty copy).</summary>
    public IReadOnlyCollection<string> Banks => _counts.Keys;

    /// <summary>Entries of a bank (searched or not).</summary>
    public int CountOf(string bank) => _counts.GetValueOrDefault(bank);

    /// <summary>The entry held under this id, or null.</summary>
    public BankEntry? Find(string bank, string id)
    {
        if (!_counts.ContainsKey(bank)) return null;
        if (_overlay.TryGetValue((bank, id), out var entry) || _unsearched.TryGetValue((bank, id), out entry)) return entry;
        int at = _middle.Find(bank, id);
        if (at >= 0) return _middle.Segment.EntryAt(at);
        at = _base.Find(bank, id);
        return at < 0 ? null : _base.Segment.EntryAt(at);
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
        // Base and middle entries are compared in place and ticked off, so only what differs is ever made into an object.
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        var seen = new[] { new ulong[BankLayer.Words(_base.Segment.Count)], new ulong[BankLayer.Words(_middle.Segment.Count)] };
        var levels = new[] { _base, _middle };
        var changed = new List<BankEntry>();
        foreach (var entry in entries)
        {
            bool ticked = false;
            if (!_overlay.ContainsKey((bank, entry.Id)) && !_unsearched.ContainsKey((bank, entry.Id)))
            {
                for (int l = 0; l < levels.Length && !ticked; l++)
                {
                    int at = levels[l].Find(bank, entry.Id);
                    if (at < 0) continue;
                    seen[l][at >> 6] |= 1UL << at;
                    if (!levels[l].Segment.SameContent(at, entry)) changed.Add(entry);
                    ticked = true;
                }
            }
            if (!ticked && wanted.Add(entry.Id) && Find(bank, entry.Id) != entry) changed.Add(entry);
        }
        var gone = new List<string>();
        for (int l = 0; l < levels.Length; l++)
            for (int i = 0; i < levels[l].Segment.Count; i++)
                if ((seen[l][i >> 6] & (1UL << i)) == 0 && !levels[l].IsRemoved(i) && levels[l].Segment.BankAt(i) == bank) gone.Add(levels[l].Segment.IdAt(i));
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
            // The index's memory is faulted in on another thread while the entries are read (millions: seconds).
            if (capacity > BankSegment.ScanLimit) _builder.Reserved = MultiIndexHashIndex.Reserve(capacity);
        }

        public int Count { get; private set; }

        public void Add(BankEntry entry)
        {
            if (entry.Bank != _bank) throw new ArgumentException($"entry {entry.Id} belongs to bank {entry.Bank}, not {_bank}", nameof(entry));
            if (entry.Quality >= _owner.Options.MinQuality) _builder.Add(entry);
            else _unsearched[(entry.Bank, entry.Id)] = entry;
            Count++;
        }

        /// <summary>Adds a snapshot block's entries, except those <see cref="BankSnapshotBlock.Skip"/> marked (their
        /// current state is added separately): searched ones by column, without an object each.</summary>
        public void Add(BankSnapshotBlock block)
        {
            ArgumentNullException.ThrowIfNull(block);
            int min = _owner.Options.MinQuality;
            _builder.Add(_bank, block, i => !block.IsSkipped(i) && block.QualityAt(i) >= min);
            for (int i = 0; i < block.Count; i++)
            {
                if (block.IsSkipped(i) || block.QualityAt(i) >= min) continue;
                var entry = block.EntryAt(_bank, i);
                _unsearched[(entry.Bank, entry.Id)] = entry;
            }
            Count += block.Count - block.SkippedCount;
        }

        /// <summary>Gives back what the load set aside (the index's reserved memory) without completing it.</summary>
        public void Abandon() => _builder.Reserved?.Release();

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
        int count = Replace(bank, []);
        _counts.Remove(bank);
        Dirty = true;
        return count;
    }

    /// <summary>Publishes the changes made since the last publish as a new snapshot (the small layer merged into the
    /// middle one when it outgrows a scan; everything compacted into a new base when the middle one outgrows
    /// <see cref="OverlayLimit"/> or a quarter of the base is removed). Returns the snapshot.</summary>
    public BankIndex Publish()
    {
        if (_middle.LiveCount + _overlay.Count > OverlayLimit || (_base.RemovedCount > 0 && _base.RemovedCount > _base.Segment.Count / 4)) Compact();
        else if (_overlay.Count > BankSegment.ScanLimit) MergeOverlay();
        BankSegment overlay;
        if (_overlayChanged)
        {
            var builder = new BankSegment.Builder(_overlay.Count);
            foreach (var e in _overlay.Values) builder.Add(e);
            overlay = builder.Build(preferIndex: false, out _);
        }
        else
        {
            overlay = _current.Layers[^1].Segment;
        }
        var snapshot = new BankIndex(Options, [_base.Share(), _middle.Share(), new BankLayer(overlay, null, 0)], _total);
        _overlayChanged = false;
        Dirty = false;
        Volatile.Write(ref _current, snapshot);
        return snapshot;
    }

    /// <summary>Rebuilds the base from every live searched entry and empties the other layers.</summary>
    public void Compact()
    {
        var builder = new BankSegment.Builder(_base.LiveCount + _middle.LiveCount + _overlay.Count);
        _base.CopyLive(builder);
        _middle.CopyLive(builder);
        foreach (var e in _overlay.Values) builder.Add(e);
        _overlay.Clear();
        _middle.Reset(new BankSegment.Builder(0), preferIndex: false);
        SetBase(builder);
        Compactions++;
    }

    // The small layer into the middle one: a rebuild of the middle only (the base is not touched).
    private void MergeOverlay()
    {
        var builder = new BankSegment.Builder(_middle.LiveCount + _overlay.Count);
        _middle.CopyLive(builder);
        foreach (var e in _overlay.Values) builder.Add(e);
        _overlay.Clear();
        _middle.Reset(builder, preferIndex: false);
        _overlayChanged = true;
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
        _overlay.Clear();
        _middle.Reset(new BankSegment.Builder(0), preferIndex: false);
        SetBase(builder);
        // An id both under and over the minimum quality (a scan handed it over twice, changed in between): the searched one stays.
        foreach (var (key, entry) in unsearched)
            if (_base.Find(key.Bank, key.Id) < 0) _unsearched[key] = entry;
        _total = _base.LiveCount + _unsearched.Count;
        _counts[bank] = _total;
    }

    private void SetBase(BankSegment.Builder builder)
    {
        _base.Reset(builder, preferIndex: true);
        _overlayChanged = true;
        Dirty = true;
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
        return _middle.Remove(bank, id) || _base.Remove(bank, id);
    }

    /// <summary>A segment being changed: positions removed from it since it was built, copied on the first change
    /// after a snapshot took the set.</summary>
    private sealed class Level
    {
        private ulong[]? _removed;
        private bool _shared;

        public BankSegment Segment { get; private set; } = BankSegment.Empty;

        public int RemovedCount { get; private set; }

        public int LiveCount => Segment.Count - RemovedCount;

        // The level as it stands (not for a snapshot: the set may still change; see Share).
        private BankLayer View => new(Segment, _removed, RemovedCount);

        public bool IsRemoved(int position) => View.IsRemoved(position);

        public int Find(string bank, string id) => View.Find(bank, id);

        public bool Remove(string bank, string id)
        {
            int at = Find(bank, id);
            if (at < 0) return false;
            MarkRemoved(at);
            return true;
        }

        public void MarkRemoved(int at)
        {
            if (_removed is null || _shared)
            {
                // Published snapshots hold the old set: copy before the first change after a publish.
                var copy = new ulong[BankLayer.Words(Segment.Count)];
                _removed?.CopyTo(copy, 0);
                _removed = copy;
                _shared = false;
            }
            _removed[at >> 6] |= 1UL << at;
            RemovedCount++;
        }

        public void CopyLive(BankSegment.Builder builder)
        {
            for (int i = 0; i < Segment.Count; i++)
                if (!IsRemoved(i)) builder.Add(Segment, i);
        }

        /// <summary>A new segment; an id the builder was given twice keeps its last entry (the earlier is removed).</summary>
        public void Reset(BankSegment.Builder builder, bool preferIndex)
        {
            Segment = builder.Build(preferIndex, out var duplicates);
            _removed = null;
            _shared = false;
            RemovedCount = 0;
            foreach (int at in duplicates) MarkRemoved(at);
        }

        /// <summary>The layer as a snapshot holds it (the removed set is copied before this level changes it again).</summary>
        public BankLayer Share()
        {
            _shared = _removed is not null;
            return new BankLayer(Segment, RemovedCount == 0 ? null : _removed, RemovedCount);
        }
    }
}
