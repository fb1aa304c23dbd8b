using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Moderation.Streams.Hashing;
using Moderation.Streams.Hashing.Banks;
using Polly;
using Polly.CircuitBreaker;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.Banks;

/// <summary>
/// Every bank of the store, held in memory (<see cref="LiveBankIndex"/>) and kept in sync: a change message
/// on the store's channel triggers a version check at once, a periodic check catches missed messages, and a
/// periodic full re-read (jittered per worker, read without holding up the change path) catches anything else.
/// A bank whose version moved is brought up to date from its changes' delta records: only the entries they name
/// are read and applied to the live index, which publishes a new snapshot sharing everything else (no rebuild);
/// a bank is read whole only when the records do not reach back. Lookups never touch the network.
/// </summary>
/// <remarks>
/// Reads go through a Polly pipeline (retry with backoff and jitter, then a circuit breaker). While the store
/// is down, lookups are answered from the last copy until it is older than
/// <see cref="BankMatcherOptions.MaxStaleness"/>; after that, and before the first load, they are
/// <see cref="BankLookupStatus.Unavailable"/>. A bank that vanishes from the registry while its version key
/// vanished too (a store restarted empty, not a deletion, which keeps counting the version) is kept: an
/// emptied store must not silently let known content through. Each copy remembers the epoch it was read under
/// and is read again whenever the store lists it under another, whatever its version says.
/// </remarks>
public sealed class BankMatcher : IAsyncDisposable
{
    private readonly RedisBankStore _store;
    private readonly BankMatcherOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline _pipeline;
    private readonly SemaphoreSlim _syncLock = new(1, 1);
    private readonly SemaphoreSlim _wake = new(0, 1);
    // Epoch: the store epoch the copy was read under. A version means something only within its epoch: a bank
    // kept through a restart (an orphan) holds an old-epoch version that the new counter can reach again.
    // Loads or compactions this large are followed by a collection that returns their transient memory.
    private const int BigLoad = 1_000_000;

    private readonly Dictionary<string, (long Version, string? Epoch)> _banks = new(StringComparer.Ordinal);
    private readonly LiveBankIndex _live;
    private readonly CancellationTokenSource _stop = new();
    private IReadOnlyDictionary<string, long> _versions = new Dictionary<string, long>();
    private long _lastSyncTimestamp;
    private bool _loaded;
    private string? _epoch;
    private readonly HashSet<string> _orphans = new(StringComparer.Ordinal);
    private bool _subscribed;
    private long _lastFullReload;
    private TimeSpan _nextFullReload;
    private Task? _loop;
    private Task? _resync;
    private Task? _snapshots;
    private readonly Lock _snapshotGate = new();
    // Banks read whole by a scan, to be counted against the store once the changes since are applied (a scan is not atomic,
    // and not every server keeps SCAN's promise under concurrent writes): the fields the scan could not decode, and how
    // many times the bank was read again for a count that did not add up.
    private readonly Dictionary<string, (int Undecodable, int Rereads)> _verify = new(StringComparer.Ordinal);
    private readonly HashSet<string> _reread = new(StringComparer.Ordinal);
    private const int MaxRereads = 2;
    // This matcher's name on a snapshot lock.
    private readonly string _owner = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";
    // A snapshot with no more changed ids than this (or the share of the bank the options allow) is kept.
    private const int SnapshotMinChanged = 1000;
    private static readonly KeyValuePair<string, object?> PdqKind = new(RedisTelemetry.KindTag, "pdq");

    public BankMatcher(RedisBankStore store, BankMatcherOptions? options = null, ILogger? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _options = options ?? new BankMatcherOptions();
        _options.Validate();
        _store = store;
        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _live = new LiveBankIndex(_options.Match);
        RedisTelemetry.Observe(this, () => _live.Current);
        _nextFullReload = _options.FullReloadInterval;
        _pipeline = BuildPipeline(_options, _time);
    }

    public BankMatcherOptions Options => _options;

    /// <summary>The index lookups use now.</summary>
    public BankIndex Index => _live.Current;

    /// <summary>The bank versions the current index was built from.</summary>
    public IReadOnlyDictionary<string, long> Versions => Volatile.Read(ref _versions);

    /// <summary>How long the last bank streamed into an empty index took to read and to index (null before one).</summary>
    public BankLoadTimes? LastLoad { get; private set; }

    /// <summary>Number of index swaps so far (0 until the first successful load).</summary>
    public long Generation { get; private set; }

    /// <summary>True when a copy exists that is fresh enough to match against.</summary>
    public bool IsAvailable
    {
        get
        {
            long last = Interlocked.Read(ref _lastSyncTimestamp);
            return Volatile.Read(ref _loaded) && _time.GetElapsedTime(last) <= _options.MaxStaleness;
        }
    }

    /// <summary>Subscribes to change messages, loads the banks (waiting at most <paramref name="initialLoadTimeout"/>;
    /// an unreachable store is not an error: lookups are Unavailable until it answers) and starts the sync loop.</summary>
    public async Task StartAsync(TimeSpan initialLoadTimeout, CancellationToken ct)
    {
        if (_loop is not null) throw new InvalidOperationException("already started");
        await TrySubscribeAsync().ConfigureAwait(false);
        try
        {
            await SyncAsync(full: true, ct).WaitAsync(initialLoadTimeout, _time, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or StoreUnavailableException)
        {
            _logger.LogWarning("Hash banks not loaded at start ({Message}); lookups fail closed until they are", e.Message);
        }
        _loop = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
    }

    /// <summary>Looks a hash up in every bank. Never blocks, never touches the network.</summary>
    public BankLookup Match(PdqHash hash, int quality, PdqDihedral? dihedral = null)
    {
        if (!IsAvailable)
        {
            RedisTelemetry.BankLookups.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.ResultTag, "unavailable"));
            return BankLookup.Unavailable;
        }
        var match = Index.FindBest(hash, quality, dihedral);
        RedisTelemetry.BankLookups.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.ResultTag, match is null ? "no-match" : "matched"));
        return new BankLookup(match is null ? BankLookupStatus.NoMatch : BankLookupStatus.Matched, match);
    }

    /// <summary>Looks a hash up in every bank and returns the nearest match of each bank that matched, nearest first (the
    /// policy's bank rules pick which decides). Never blocks, never touches the network.</summary>
    public (BankLookupStatus Status, IReadOnlyList<BankMatch> PerBank) MatchPerBank(PdqHash hash, int quality, PdqDihedral? dihedral = null)
    {
        if (!IsAvailable)
        {
            RedisTelemetry.BankLookups.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.ResultTag, "unavailable"));
            return (BankLookupStatus.Unavailable, []);
        }
        var all = Index.FindAll(hash, quality, dihedral);
        RedisTelemetry.BankLookups.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.ResultTag, all.Count == 0 ? "no-match" : "matched"));
        if (all.Count == 0) return (BankLookupStatus.NoMatch, []);
        // FindAll lists nearest first: the first of each bank is its nearest.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        return (BankLookupStatus.Matched, all.Where(m => seen.Add(m.Bank)).ToList());
    }

    /// <summary>Brings the index up to date with the store now: for each bank whose version moved, reads the
    /// changes' delta records and then only the entries they name, or the whole bank when the records do not
    /// reach back (expired, a bank emptied, a new epoch) or with <paramref name="full"/>; publishes one new
    /// snapshot when anything changed.</summary>
    /// <returns>True when the index changed.</returns>
    /// <exception cref="StoreUnavailableException">The store could not be read (the old index stays).</exception>
    public Task<bool> SyncAsync(bool full, CancellationToken ct) => SyncAsync(full, null, ct);

    /// <summary>Reads every bank whole without holding up the change path (changes keep being applied meanwhile),
    /// then applies the copies and the changes made since each was read, and publishes once: the periodic full
    /// reload, which catches anything the change records could have missed. Returns true when the index changed.</summary>
    public async Task<bool> ResyncAsync(CancellationToken ct)
    {
        var state = await Read(static (s, _) => new ValueTask<BankStoreState>(s.GetStateAsync()), ct).ConfigureAwait(false);
        var copies = new List<(string Bank, string? Epoch, BankCopy Copy)>();
        foreach (var name in state.Versions.Keys)
            copies.Add((name, state.Epoch, await Read((s, token) => new ValueTask<BankCopy>(s.ReadAsync(name, token)), ct).ConfigureAwait(false)));
        bool changed = await SyncAsync(full: false, copies, ct).ConfigureAwait(false);
        _lastFullReload = _time.GetTimestamp();
        return changed;
    }

    private async Task<bool> SyncAsync(bool full, List<(string Bank, string? Epoch, BankCopy Copy)>? copies, CancellationToken ct)
    {
        await _syncLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var state = await Read(static (s, _) => new ValueTask<BankStoreState>(s.GetStateAsync()), ct).ConfigureAwait(false);
            var versions = state.Versions;
            HashSet<string>? reread = null;
            if (state.Epoch != _epoch)
            {
                if (_loaded) _logger.LogWarning("Hash bank store has a new epoch ({Old} -> {New}): reading every bank again", _epoch, state.Epoch);
                full = true;
            }
            else
            {
                // Copies read whole before the lock: each replaces the bank as of its version; the changes since then
                // are caught up below from their records (or the bank is read whole again if those are gone).
                foreach (var (name, epoch, copy) in copies ?? [])
                {
                    if (epoch != state.Epoch || !_banks.TryGetValue(name, out var held) || held.Epoch != state.Epoch || !versions.ContainsKey(name)) continue;
                    _live.Replace(name, copy.Entries);
                    _banks[name] = (copy.Version, state.Epoch);
                    Verify(name, copy.Undecodable);
                    (reread ??= new HashSet<string>(StringComparer.Ordinal)).Add(name);
                    RedisTelemetry.BankCatchUps.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.HowTag, "resync"), PdqKind);
                }
            }
            List<(string Bank, DateTimeOffset ChangedAt)>? applied = null;
            List<string>? scanned = null;
            int deltas = 0, whole = 0, undecodable = 0;
            bool bigLoad = false;
            foreach (var (name, version) in versions)
            {
                bool known = _banks.TryGetValue(name, out var loaded);
                // A bank whose count did not add up after a scan is read whole again, whatever its version says.
                bool again = _reread.Remove(name);
                if (!full && !again && known && loaded.Version == version && loaded.Epoch == state.Epoch) continue;
                // A bank new since the first load, in the same epoch, has its changes from version 0 on record too.
                long from = known && loaded.Epoch == state.Epoch ? loaded.Version : 0;
                if (!full && !again && (known ? loaded.Epoch == state.Epoch : _loaded) && version > from
                    && await Read((s, _) => new ValueTask<BankChanges?>(s.ReadChangesAsync(name, from, version)), ct).ConfigureAwait(false) is { } changes)
                {
                    var entries = await Read((s, _) => new ValueTask<Dictionary<string, BankEntry?>>(s.ReadEntriesAsync(name, [.. changes.Ids])), ct).ConfigureAwait(false);
                    _live.Upsert(entries.Values.OfType<BankEntry>());
                    _live.Remove(name, entries.Where(e => e.Value is null).Select(e => e.Key));
                    // (Changes caught up after a whole re-read were applied once already: not a new delay.)
                    if (changes.ChangedAt is { } changedAt && reread?.Contains(name) != true) (applied ??= []).Add((name, changedAt));
                    _banks[name] = (version, state.Epoch);
                    deltas++;
                    RedisTelemetry.BankCatchUps.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.HowTag, "delta"), PdqKind);
                    continue;
                }
                (long Version, DateTimeOffset? ChangedAt) head;
                if (full && _live.IsEmpty)
                {
                    // A first load (or a store under a new epoch with nothing held): streamed into the index, never a list.
                    long readStarted = _time.GetTimestamp();
                    var (readHead, loader, snapshot) = await Read(async (s, token) =>
                    {
                        if (await FromSnapshotAsync(s, name, state.Epoch, token).ConfigureAwait(false) is { } loaded) return loaded;
                        // Sized from HLEN, so the columns are filled in place (a few more entries only grow them).
                        var fresh = _live.BeginLoad(name, (int)Math.Min(int.MaxValue / 32, await s.CountAsync(name).ConfigureAwait(false) + 1024));
                        try
                        {
                            undecodable = 0;
                            return (await s.ReadAsync(name, fresh.Add, token, _ => undecodable++).ConfigureAwait(false), fresh, (BankSnapshotRead?)null);
                        }
                        catch
                        {
                            fresh.Abandon();
                            throw;
                        }
                    }, ct).ConfigureAwait(false);
                    var read = _time.GetElapsedTime(readStarted);
                    long indexStarted = _time.GetTimestamp();
                    loader.Complete();
                    head = readHead;
                    bigLoad |= loader.Count >= BigLoad;
                    LastLoad = new BankLoadTimes(name, loader.Count, read, _time.GetElapsedTime(indexStarted)) { FromSnapshot = snapshot is not null };
                    _logger.LogInformation("Hash bank {Bank} read whole{From}: {Entries} entries read and decoded in {Read:0.00} s, indexed in {Index:0.00} s",
                        name, snapshot is null ? "" : $" from its snapshot (version {snapshot.Snapshot.Version}, {snapshot.ChangedIds.Count} changed since)",
                        loader.Count, LastLoad.Read.TotalSeconds, LastLoad.Index.TotalSeconds);
                    if (snapshot is null)
                    {
                        (scanned ??= []).Add(name);
                        Verify(name, undecodable);
                    }
                }
                else
                {
                    var copy = await Read((s, token) => new ValueTask<(BankCopy, bool)>(ReadCopyAsync(s, name, state.Epoch, token)), ct).ConfigureAwait(false);
                    _live.Replace(name, copy.Item1.Entries);
                    head = (copy.Item1.Version, copy.Item1.ChangedAt);
                    if (!copy.Item2)
                    {
                        (scanned ??= []).Add(name);
                        Verify(name, copy.Item1.Undecodable);
                    }
                }
                // A change this copy applies: not the first load, a full reload of the same version, or a store under a new
                // epoch (restored or restarted: its writes are not this worker's delay), but the first write to an empty one.
                if (_loaded && head.ChangedAt is { } at && (state.Epoch == _epoch || _epoch is null)
                    && (!known || (loaded.Version != head.Version && loaded.Epoch == state.Epoch)))
                    (applied ??= []).Add((name, at));
                _banks[name] = (head.Version, state.Epoch);
                RedisTelemetry.BankCatchUps.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.HowTag, "whole"), PdqKind);
                _orphans.Remove(name);
                whole++;
            }
            foreach (var name in _banks.Keys.Where(n => !versions.ContainsKey(n)).ToList())
            {
                long version = await Read((s, _) => new ValueTask<long>(s.GetVersionAsync(name)), ct).ConfigureAwait(false);
                if (version == 0)
                {
                    if (_orphans.Add(name))
                        _logger.LogError("Hash bank {Bank} vanished from the store together with its version (store restarted empty?): keeping the copy in memory; re-import it", name);
                    continue;
                }
                _live.RemoveBank(name);
                _banks.Remove(name);
            }
            bool changed = _live.Dirty || !_loaded;
            if (changed)
            {
                int compactions = _live.Compactions;
                var index = _live.Publish();
                // A load of millions of entries leaves its transient arrays (the hashes handed to the index, the id table
                // being filled) as garbage worth gigabytes: give it back to the system now rather than at some later GC.
                if (bigLoad || _live.Compactions != compactions && index.Count >= BigLoad)
                    GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                Generation++;
                // Served from here on: the change's delay ends at the swap.
                var now = _time.GetUtcNow();
                foreach (var (bank, at) in applied ?? [])
                    RedisTelemetry.BankChangeDelay.Record(Math.Max(0, (now - at).TotalSeconds), new KeyValuePair<string, object?>(RedisTelemetry.BankTag, bank), PdqKind);
                if (whole > 0 || _live.Compactions != compactions)
                    _logger.LogInformation("Hash banks loaded: {Banks} banks, {Entries} hashes searched ({Total} in all); {Whole} read whole, {Deltas} from their changes",
                        _banks.Count, index.Count, index.TotalEntries, whole, deltas);
                else
                    _logger.LogDebug("Hash banks changed: {Deltas} banks from their changes; {Entries} hashes searched, {Overlay} since the last rebuild",
                        deltas, index.Count, index.OverlayCount);
            }
            if (changed || whole + deltas > 0)
                Volatile.Write(ref _versions, _banks.ToDictionary(b => b.Key, b => b.Value.Version, StringComparer.Ordinal));
            _epoch = state.Epoch;
            Interlocked.Exchange(ref _lastSyncTimestamp, _time.GetTimestamp());
            Volatile.Write(ref _loaded, true);
            if (full) _lastFullReload = _time.GetTimestamp();
            RedisTelemetry.BankSyncs.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.ResultTag, "ok"), PdqKind);
            // Banks that had to be scanned whole (and, after a periodic re-read, every bank): the next worker to start
            // should find a snapshot, and not one with too many changes since.
            if (copies is not null) scanned = [.. _banks.Keys];
            if (scanned is not null) ConsiderSnapshots(scanned);
            await CountScannedAsync(ct).ConfigureAwait(false);
            return changed;
        }
        finally
        {
            _syncLock.Release();
        }
    }

    // A first load from the bank's snapshot: its blocks by column into a loader (sized from the manifest once it is read, so
    // the index's memory is faulted in while the blocks come). Null without a usable snapshot (then scanned).
    private async Task<((long Version, DateTimeOffset? ChangedAt), LiveBankIndex.Loader, BankSnapshotRead?)?> FromSnapshotAsync(
        RedisBankStore store, string bank, string? epoch, CancellationToken ct)
    {
        LiveBankIndex.Loader? loader = null;
        try
        {
            var read = await ReadSnapshotAsync(store, bank, epoch,
                info => loader = _live.BeginLoad(bank, (int)Math.Min(int.MaxValue / 32, info.Entries + info.Changed + 1024)),
                block => loader!.Add(block), entry => loader!.Add(entry), ct).ConfigureAwait(false);
            if (read is not null && loader is not null) return ((read.Version, read.ChangedAt), loader, read);
            loader?.Abandon();
            return null;
        }
        catch
        {
            // Retried from the start (the store's resilience pipeline): nothing of this attempt is kept.
            loader?.Abandon();
            throw;
        }
    }

    // The bank as its snapshot makes it: the blocks (the entries changed since skipped) to `block`, then those entries as they
    // are now to `current`. Null when snapshots are off, or the bank has none (or one of another epoch), or one that cannot
    // be read (a block missing or damaged: warned and counted; the caller scans instead).
    private async Task<BankSnapshotRead?> ReadSnapshotAsync(RedisBankStore store, string bank, string? epoch, Action<BankSnapshotInfo> begin,
        Action<BankSnapshotBlock> block, Action<BankEntry> current, CancellationToken ct)
    {
        if (!_options.Snapshots) return null;
        try
        {
            if (await store.ReadSnapshotAsync(bank, epoch, block, ct, begin).ConfigureAwait(false) is not { } read) return null;
            foreach (var entry in (await store.ReadEntriesAsync(bank, read.ChangedIds).ConfigureAwait(false)).Values)
                if (entry is not null) current(entry);
            RedisTelemetry.BankSnapshots.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.ResultTag, "read"));
            return read;
        }
        catch (InvalidDataException e)
        {
            RedisTelemetry.BankSnapshots.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.ResultTag, "unreadable"));
            _logger.LogWarning("Hash bank {Bank} snapshot not usable ({Message}): reading the bank whole", bank, e.Message);
            return null;
        }
    }

    private void Verify(string bank, int undecodable) =>
        _verify[bank] = (undecodable, _verify.TryGetValue(bank, out var before) ? before.Rereads : 0);

    // Under the sync lock, after a sync: each bank scanned lately, once the index holds the version the store is at, must
    // hold as many entries as the store's hash has fields (less those the scan could not decode). One that does not (a
    // scan that skipped a field under concurrent writes, as Garnet's was seen to) is read whole again at the next sync,
    // at most MaxRereads times in a row.
    private async Task CountScannedAsync(CancellationToken ct)
    {
        foreach (var (bank, (undecodable, rereads)) in _verify.ToList())
        {
            if (!_banks.TryGetValue(bank, out var held))
            {
                _verify.Remove(bank);
                continue;
            }
            (long Version, long Count) now;
            try
            {
                now = await Read((s, _) => new ValueTask<(long, long)>(s.GetVersionAndCountAsync(bank)), ct).ConfigureAwait(false);
            }
            catch (StoreUnavailableException)
            {
                return; // counted at a later sync
            }
            if (now.Version != held.Version) continue; // changes still to apply first
            long holding = _live.CountOf(bank) + undecodable;
            _verify.Remove(bank);
            if (holding == now.Count) continue;
            RedisTelemetry.BankCatchUps.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.HowTag, "recount"), PdqKind);
            if (rereads >= MaxRereads)
            {
                _logger.LogError("Hash bank {Bank}: {Holding} entries held after {Rereads} re-reads, the store holds {Count} at version {Version}; left to the next full re-read",
                    bank, holding, rereads, now.Count, now.Version);
                continue;
            }
            _logger.LogWarning("Hash bank {Bank}: {Holding} entries held, the store holds {Count} at version {Version} (a scan that skipped or repeated fields under concurrent writes, or fields written without a version); reading it whole again",
                bank, holding, now.Count, now.Version);
            _verify[bank] = (undecodable, rereads + 1);
            _reread.Add(bank);
            Wake();
        }
    }

    // A bank read whole into a list (the index holds other banks): from its snapshot when there is one (true), else scanned.
    private async Task<(BankCopy, bool)> ReadCopyAsync(RedisBankStore store, string bank, string? epoch, CancellationToken ct)
    {
        var entries = new List<BankEntry>();
        var read = await ReadSnapshotAsync(store, bank, epoch, info => entries.Capacity = (int)Math.Min(int.MaxValue / 32, info.Entries + info.Changed),
            block =>
            {
                for (int i = 0; i < block.Count; i++)
                    if (!block.IsSkipped(i)) entries.Add(block.EntryAt(bank, i));
            }, entries.Add, ct).ConfigureAwait(false);
        return read is not null
            ? (new BankCopy(read.Version, read.ChangedAt, entries), true)
            : (await store.ReadAsync(bank, ct).ConfigureAwait(false), false);
    }

    // In the background, one round at a time: for each bank big enough, a new snapshot when it has none or too many
    // changes since its own; the store's lock makes one worker of many write it.
    private void ConsiderSnapshots(IEnumerable<string> banks)
    {
        // Called under the sync lock: the live index's counts are read here, not from the background.
        var sizes = banks.Select(b => (Bank: b, Entries: (long)_live.CountOf(b))).Where(b => b.Entries >= _options.SnapshotMinEntries).ToList();
        if (!_options.Snapshots || sizes.Count == 0) return;
        lock (_snapshotGate)
        {
            if (_stop.IsCancellationRequested || _snapshots is { IsCompleted: false }) return;
            _snapshots = Task.Run(() => WriteSnapshotsAsync(sizes, _stop.Token), CancellationToken.None);
        }
    }

    private async Task WriteSnapshotsAsync(List<(string Bank, long Entries)> banks, CancellationToken ct)
    {
        foreach (var (bank, entries) in banks)
        {
            try
            {
                var info = await _store.GetSnapshotInfoAsync(bank).ConfigureAwait(false);
                if (info is not null && info.Changed <= Math.Max(SnapshotMinChanged, entries * _options.SnapshotRefreshShare)) continue;
                long started = _time.GetTimestamp();
                var (locked, written) = await _store.WriteSnapshotLockedAsync(bank, _owner, ct).ConfigureAwait(false);
                if (!locked) continue; // another worker writes it
                RedisTelemetry.BankSnapshots.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.ResultTag, written is null ? "abandoned" : "written"));
                if (written is null)
                    _logger.LogInformation("Hash bank {Bank} snapshot abandoned (the bank changed too much while it was written); the next full re-read tries again", bank);
                else
                    _logger.LogInformation("Hash bank {Bank} snapshot written: {Entries} entries as of version {Version}, {Blocks} blocks, {MiB:0.0} MiB, in {Seconds:0.0} s",
                        bank, written.Entries, written.Version, written.Blocks, written.Bytes / 1048576.0, _time.GetElapsedTime(started).TotalSeconds);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is RedisException or TimeoutException or InvalidDataException)
            {
                RedisTelemetry.BankSnapshots.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.ResultTag, "failed"));
                _logger.LogWarning("Hash bank {Bank} snapshot not written: {Message}", bank, e.Message);
            }
        }
    }

    private async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                using var delay = CancellationTokenSource.CreateLinkedTokenSource(ct);
                var woken = _wake.WaitAsync(delay.Token);
                await Task.WhenAny(woken, Task.Delay(_options.RefreshInterval, _time, delay.Token)).ConfigureAwait(false);
                await delay.CancelAsync().ConfigureAwait(false);
                if (ct.IsCancellationRequested) return;
                if (!_subscribed) await TrySubscribeAsync().ConfigureAwait(false);
                if (_time.GetElapsedTime(_lastFullReload) >= _nextFullReload && _resync is null or { IsCompleted: true })
                {
                    // Jittered per worker and per round, so workers sharing a store do not all read it at once.
                    _nextFullReload = _options.FullReloadInterval * (0.75 + 0.25 * Random.Shared.NextDouble());
                    _lastFullReload = _time.GetTimestamp();
                    _resync = Task.Run(() => ResyncInBackgroundAsync(ct), CancellationToken.None);
                }
                await SyncAsync(full: false, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (StoreUnavailableException e)
            {
                _logger.LogWarning("Hash banks not refreshed: {Message}", e.Message);
            }
            catch (Exception e)
            {
                RedisTelemetry.BankSyncs.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.ResultTag, "error"), PdqKind);
                _logger.LogError(e, "Hash bank refresh failed");
            }
        }
    }

    private async Task ResyncInBackgroundAsync(CancellationToken ct)
    {
        try
        {
            await ResyncAsync(ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Stopping.
        }
        catch (StoreUnavailableException e)
        {
            _logger.LogWarning("Hash banks not re-read whole: {Message}", e.Message);
        }
        catch (Exception e)
        {
            RedisTelemetry.BankSyncs.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.ResultTag, "error"), PdqKind);
            _logger.LogError(e, "Hash bank full re-read failed");
        }
    }

    private async Task TrySubscribeAsync()
    {
        try
        {
            // The multiplexer re-subscribes by itself after a reconnect.
            await _store.Connection.GetSubscriber().SubscribeAsync(_store.ChangesChannel, (_, _) => Wake()).ConfigureAwait(false);
            _subscribed = true;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            _logger.LogWarning("Not subscribed to bank changes yet ({Message}); relying on periodic checks", e.Message);
        }
    }

    private void Wake()
    {
        try
        {
            if (_wake.CurrentCount == 0) _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

    private async Task<T> Read<T>(Func<RedisBankStore, CancellationToken, ValueTask<T>> read, CancellationToken ct)
    {
        try
        {
            return await _pipeline.ExecuteAsync(static (state, token) => state.read(state.store, token), (read, store: _store), ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException or ExecutionRejectedException && !ct.IsCancellationRequested)
        {
            RedisTelemetry.BankSyncs.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.ResultTag, "error"), PdqKind);
            throw new StoreUnavailableException(e is BrokenCircuitException
                ? "Bank read refused: the circuit to the store is open after repeated failures."
                : $"Bank read failed: {e.Message}", e);
        }
    }

    private static ResiliencePipeline BuildPipeline(BankMatcherOptions options, TimeProvider time) =>
        StoreResilience.Build(new PredicateBuilder().Handle<RedisException>().Handle<TimeoutException>(),
            options.RetryAttempts, options.RetryBaseDelay, options.BreakerFailureRatio, options.BreakerMinimumThroughput,
            options.BreakerSamplingDuration, options.BreakerBreakDuration, time);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopping.
            }
        }
        if (_resync is not null) await _resync.ConfigureAwait(false);
        Task? snapshots;
        lock (_snapshotGate) snapshots = _snapshots;
        if (snapshots is not null) await snapshots.ConfigureAwait(false);
        if (_subscribed)
        {
            try
            {
                await _store.Connection.GetSubscriber().UnsubscribeAsync(_store.ChangesChannel).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or TimeoutException or ObjectDisposedException)
            {
                // The connection is going away anyway.
            }
        }
        RedisTelemetry.Forget(this);
        _stop.Dispose();
        _syncLock.Dispose();
        _wake.Dispose();
    }
}
