using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.Banks;

/// <summary>
/// A worker's copy of every bank of an <see cref="IBankCopySource{TBank}"/>, kept in step: a change message triggers a sync
/// at once, a sync every <see cref="BankMatcherOptions.RefreshInterval"/> catches missed ones. A sync reads the store's
/// epoch and versions and loads only the banks whose version moved, that appeared, or that the copy holds from another
/// epoch; every other bank keeps its loaded form, and the matched view (<typeparamref name="TCopy"/>) is composed again
/// from the banks. A store with delta records (<see cref="IBankDeltaSource{TBank}"/>) brings a bank whose version moved
/// up to date from them (a new loaded form made from the held one and the entries the changes name, never the held one
/// changed: readers may hold it) and loads it whole only when they do not reach back; such a store is also read whole
/// every <see cref="BankMatcherOptions.FullReloadInterval"/> (jittered to 75–100% per round, so workers sharing a store do
/// not read it at once) in the background, each copy put in place as of its version and the changes since caught up
/// from the records. Each change the copy applies records its delay from the store's <c>changed_at</c> to the swap
/// (<c>moderation.bank.change.delay</c>, tagged with the bank and the kind). A sync is all or nothing: when one bank fails to load, the copy in memory stays as it was. A store
/// under a new epoch (wiped, then written again) or whose versions went backwards (restored from an older backup) is
/// read again whole. A bank that vanishes together with its version key (a store wiped, not a deletion, which keeps
/// counting the version) is kept, with an error logged: an emptied store must not silently let known content through.
/// A copy older than <see cref="BankMatcherOptions.MaxStaleness"/> (or none at all) is not trusted: <see cref="Current"/>
/// is then null and the caller fails closed.
/// </summary>
/// <remarks>
/// Failures: <see cref="SyncAsync"/> throws whatever failed; the start and the loop catch every exception but the
/// caller's cancellation (the loop never ends on an error, and a worker starts without its banks rather than not at
/// all): a store that cannot be read (<see cref="RedisException"/>, <see cref="TimeoutException"/>) is logged as a
/// warning, anything else (a bank that does not load, the model a bank needs) as an error with its exception. Both
/// count <c>moderation.bank.syncs</c> <c>result=error</c>.
/// </remarks>
/// <typeparam name="TBank">A bank's loaded form.</typeparam>
/// <typeparam name="TCopy">What is matched against: composed from every bank, by name.</typeparam>
public sealed class BankCopySync<TBank, TCopy> : IAsyncDisposable where TBank : class where TCopy : class
{
    private readonly IBankCopySource<TBank> _source;
    private readonly Func<IReadOnlyList<KeyValuePair<string, TBank>>, TCopy> _compose;
    private readonly string _what;
    private readonly KeyValuePair<string, object?> _kind;
    private readonly BankMatcherOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _changed = new(0, 1);
    private readonly SemaphoreSlim _syncLock = new(1, 1);
    private readonly HashSet<string> _orphans = new(StringComparer.Ordinal);
    // Under _syncLock: every bank held, with the version and the store epoch it was loaded at.
    private Dictionary<string, (long Version, string? Epoch, TBank Bank)> _held = new(StringComparer.Ordinal);
    private string? _epoch;
    private TCopy? _copy;
    private IReadOnlyDictionary<string, long> _versions = new Dictionary<string, long>();
    private IReadOnlyDictionary<string, TBank> _banks = new Dictionary<string, TBank>();
    private long _lastSync;
    // The periodic whole re-read of a store with delta records (none for the others: they read every change whole).
    private long _lastFullReload;
    private TimeSpan _nextFullReload;
    private Task? _resync;
    private long _whole, _fromChanges;
    private bool _subscribed;
    private Task? _first;
    private Task? _loop;

    /// <param name="compose">Builds the matched view from every bank held, ordered by name (called under the sync's lock,
    /// only when a bank changed).</param>
    /// <param name="what">The banks as log lines name them ("Text banks").</param>
    /// <param name="kind">The <c>kind</c> tag of this copy's <c>moderation.bank.*</c> metrics.</param>
    public BankCopySync(IBankCopySource<TBank> source, Func<IReadOnlyList<KeyValuePair<string, TBank>>, TCopy> compose, string what, string kind,
        BankMatcherOptions? options = null, ILogger? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(compose);
        ArgumentException.ThrowIfNullOrEmpty(what);
        ArgumentException.ThrowIfNullOrEmpty(kind);
        _source = source;
        _compose = compose;
        _what = what;
        _kind = new KeyValuePair<string, object?>(RedisTelemetry.KindTag, kind);
        _options = options ?? new BankMatcherOptions();
        _options.Validate();
        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _nextFullReload = _options.FullReloadInterval;
        _lastFullReload = _time.GetTimestamp();
    }

    /// <summary>True when a copy exists that is fresh enough to match against.</summary>
    public bool IsAvailable => Volatile.Read(ref _copy) is not null && _time.GetElapsedTime(Interlocked.Read(ref _lastSync)) <= _options.MaxStaleness;

    /// <summary>The copy to match against now; null while it cannot be trusted.</summary>
    public TCopy? Current => IsAvailable ? Volatile.Read(ref _copy) : null;

    /// <summary>The versions of the banks in the copy.</summary>
    public IReadOnlyDictionary<string, long> Versions => Volatile.Read(ref _versions);

    /// <summary>The loaded form of every bank in the copy (a bank not reloaded is the same object from sync to sync).</summary>
    public IReadOnlyDictionary<string, TBank> Banks => Volatile.Read(ref _banks);

    /// <summary>Banks brought up to date so far by reading them whole (first load, changes without records, the periodic
    /// re-read included), and by applying their changes' records.</summary>
    public (long Whole, long FromChanges) CatchUps => (Interlocked.Read(ref _whole), Interlocked.Read(ref _fromChanges));

    /// <summary>Subscribes to change messages, loads the banks (waiting at most <paramref name="initialLoadTimeout"/>; a
    /// store or a bank that fails is not an error: the banks are unavailable until a sync succeeds) and starts the loop.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was cancelled.</exception>
    public async Task StartAsync(TimeSpan initialLoadTimeout, CancellationToken ct)
    {
        if (_loop is not null) throw new InvalidOperationException("already started");
        await TrySubscribeAsync().ConfigureAwait(false);
        // Kept: a first load still running past the timeout goes on (the loop waits for it) and is awaited on dispose.
        _first = SyncAsync(_stop.Token);
        try
        {
            await _first.WaitAsync(initialLoadTimeout, _time, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            Failed(e, atStart: true);
        }
        _loop = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
    }

    /// <summary>Brings the copy up to date now: loads the banks whose version moved, that appeared or that the copy holds
    /// from another epoch (every bank on the first load, under a new epoch, or when versions went backwards), drops the
    /// banks deleted, and composes the copy again when anything changed.</summary>
    /// <returns>True when the copy changed.</returns>
    /// <exception cref="Exception">Whatever failed: the store, or a bank that does not load (the copy stays as it was).</exception>
    public Task<bool> SyncAsync(CancellationToken ct) => SyncAsync(null, ct);

    private async Task<bool> SyncAsync(IReadOnlyList<(string Bank, long Version, string? Epoch, TBank Loaded)>? copies, CancellationToken ct)
    {
        await _syncLock.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            bool changed = await SyncLockedAsync(copies, ct).ConfigureAwait(false);
            RedisTelemetry.BankSyncs.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.ResultTag, "ok"), _kind);
            return changed;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            RedisTelemetry.BankSyncs.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.ResultTag, "error"), _kind);
            throw;
        }
        finally
        {
            _syncLock.Release();
        }
    }

    private async Task<bool> SyncLockedAsync(IReadOnlyList<(string Bank, long Version, string? Epoch, TBank Loaded)>? copies, CancellationToken ct)
    {
        var state = await _source.GetStateAsync().ConfigureAwait(false);
        bool first = Volatile.Read(ref _copy) is null, full = first;
        if (!first && state.Epoch != _epoch)
        {
            _logger.LogWarning("{What} store has a new epoch ({Old} -> {New}): reading every bank again", _what, _epoch, state.Epoch);
            full = true;
        }
        else if (!first && state.Versions.FirstOrDefault(v => _held.TryGetValue(v.Key, out var h) && h.Epoch == state.Epoch && v.Value < h.Version) is { Key: { } back })
        {
            _logger.LogWarning("{What}: {Bank} went back from version {Held} to {Version} (the store restored from an older copy?): reading every bank again",
                _what, back, _held[back].Version, state.Versions[back]);
            full = true;
        }
        // All or nothing: nothing held changes until every bank to load has loaded and the copy is composed. A bank is never
        // changed in place (readers may hold it): a change makes a new one.
        var next = new Dictionary<string, (long Version, string? Epoch, TBank Bank)>(_held, StringComparer.Ordinal);
        // Copies read whole by the periodic re-read, before the lock: each replaces the bank as of its version; the changes
        // since are caught up below like any others.
        HashSet<string>? resynced = null;
        foreach (var (name, version, epoch, loadedWhole) in (full ? null : copies) ?? [])
        {
            if (epoch != state.Epoch || !next.TryGetValue(name, out var h) || h.Epoch != state.Epoch || !state.Versions.TryGetValue(name, out var now) || version > now) continue;
            next[name] = (version, epoch, loadedWhole);
            (resynced ??= new HashSet<string>(StringComparer.Ordinal)).Add(name);
        }
        var load = state.Versions
            .Where(v => full || !next.TryGetValue(v.Key, out var h) || h.Version != v.Value || h.Epoch != state.Epoch)
            .Select(v => v.Key).ToList();
        List<string>? deleted = null;
        foreach (var name in _held.Keys.Where(n => !state.Versions.ContainsKey(n)).ToList())
        {
            if (await _source.GetVersionAsync(name).ConfigureAwait(false) == 0)
            {
                if (_orphans.Add(name))
                    _logger.LogError("{What}: {Bank} vanished from the store together with its version (store wiped?): keeping the copy in memory; re-import it", _what, name);
                continue;
            }
            (deleted ??= []).Add(name);
        }
        if (!first && load.Count == 0 && deleted is null && resynced is null)
        {
            _epoch = state.Epoch;
            Interlocked.Exchange(ref _lastSync, _time.GetTimestamp());
            return false;
        }

        // The changes this copy applies, with when each was written: not a first load, a store under a new epoch (restored
        // or restarted: its writes are not this worker's delay) or a re-read of a version already held.
        List<(string Bank, DateTimeOffset ChangedAt)>? applied = null;
        var whole = new List<string>();
        int deltas = 0;
        foreach (var name in load)
        {
            bool held = next.TryGetValue(name, out var h) && h.Epoch == state.Epoch;
            long version = state.Versions[name];
            if (!full && held && version > h.Version && _source is IBankDeltaSource<TBank> deltaSource
                && await deltaSource.ReadChangesAsync(name, h.Bank, h.Version, version).ConfigureAwait(false) is { } changes
                && await deltaSource.ApplyAsync(name, h.Bank, changes, ct).ConfigureAwait(false) is { } changed)
            {
                next[name] = (version, state.Epoch, changed);
                deltas++;
                // (Changes caught up after a whole re-read were applied once already: not a new delay.)
                if (changes.ChangedAt is { } at && resynced?.Contains(name) != true) (applied ??= []).Add((name, at));
                continue;
            }
            whole.Add(name);
            if (!full && _epoch == state.Epoch && (!held || h.Version != version) && resynced?.Contains(name) != true
                && await _source.GetChangedAtAsync(name).ConfigureAwait(false) is { } changedAt)
                (applied ??= []).Add((name, changedAt));
        }

        var loaded = whole.Count == 0
            ? new Dictionary<string, TBank>()
            : await _source.LoadAsync(whole, _held.ToDictionary(h => h.Key, h => h.Value.Bank, StringComparer.Ordinal), ct).ConfigureAwait(false);
        foreach (var name in deleted ?? []) next.Remove(name);
        foreach (var name in whole)
        {
            if (loaded.TryGetValue(name, out var bank)) next[name] = (state.Versions[name], state.Epoch, bank);
            else next.Remove(name); // gone between the versions and the load: the next sync sees why
        }
        var ordered = next.OrderBy(b => b.Key, StringComparer.Ordinal).ToList();
        var copy = _compose([.. ordered.Select(b => KeyValuePair.Create(b.Key, b.Value.Bank))]);

        Volatile.Write(ref _held, next);
        foreach (var name in loaded.Keys) _orphans.Remove(name);
        _epoch = state.Epoch;
        Volatile.Write(ref _banks, ordered.ToDictionary(b => b.Key, b => b.Value.Bank, StringComparer.Ordinal));
        Volatile.Write(ref _versions, ordered.ToDictionary(b => b.Key, b => b.Value.Version, StringComparer.Ordinal));
        Volatile.Write(ref _copy, copy);
        Interlocked.Exchange(ref _lastSync, _time.GetTimestamp());
        // Matched from here on: a change's delay ends at the swap.
        var swapped = _time.GetUtcNow();
        foreach (var (bank, at) in applied ?? [])
            RedisTelemetry.BankChangeDelay.Record(Math.Max(0, (swapped - at).TotalSeconds), new KeyValuePair<string, object?>(RedisTelemetry.BankTag, bank), _kind);
        Interlocked.Add(ref _whole, loaded.Count + (resynced?.Count ?? 0));
        Interlocked.Add(ref _fromChanges, deltas);
        if (loaded.Count > 0)
            RedisTelemetry.BankCatchUps.Add(loaded.Count, new KeyValuePair<string, object?>(RedisTelemetry.HowTag, "whole"), _kind);
        if (deltas > 0)
            RedisTelemetry.BankCatchUps.Add(deltas, new KeyValuePair<string, object?>(RedisTelemetry.HowTag, "delta"), _kind);
        if (resynced is not null)
            RedisTelemetry.BankCatchUps.Add(resynced.Count, new KeyValuePair<string, object?>(RedisTelemetry.HowTag, "resync"), _kind);
        if (loaded.Count > 0 || deleted is not null || resynced is not null)
            _logger.LogInformation("{What} loaded: {Banks}; {Read} read, {Deltas} from their changes, {Resynced} re-read in the background, {Kept} kept from the copy before, {Deleted} deleted",
                _what, ordered.Count == 0 ? "none" : string.Join(", ", ordered.Select(b => $"{b.Key} v{b.Value.Version}")),
                loaded.Count, deltas, resynced?.Count ?? 0, ordered.Count - loaded.Count - deltas, deleted?.Count ?? 0);
        else
            _logger.LogDebug("{What} changed: {Deltas} banks from their changes", _what, deltas);
        return true;
    }

    /// <summary>Reads every bank whole without holding up the change path (changes keep being applied meanwhile), then
    /// puts each copy in place as of the version it was read at and catches up on the changes since: the periodic full
    /// re-read of a store whose banks are kept by their changes' records, which catches anything the records could have
    /// missed. Returns true when the copy changed.</summary>
    public async Task<bool> ResyncAsync(CancellationToken ct)
    {
        var state = await _source.GetStateAsync().ConfigureAwait(false);
        var held = Volatile.Read(ref _held);
        var loaded = await _source.LoadAsync([.. state.Versions.Keys], held.ToDictionary(h => h.Key, h => h.Value.Bank, StringComparer.Ordinal), ct).ConfigureAwait(false);
        var copies = loaded.Select(b => (b.Key, state.Versions[b.Key], state.Epoch, b.Value)).ToList();
        bool changed = await SyncAsync(copies, ct).ConfigureAwait(false);
        _lastFullReload = _time.GetTimestamp();
        return changed;
    }

    // The one rule for a failed start or refresh: the store unreachable is a warning (it comes back by itself), anything
    // else (a bank that does not load, the model a bank needs) an error with its exception (someone has to act).
    private void Failed(Exception e, bool atStart)
    {
        bool store = e is RedisException or TimeoutException;
        if (atStart && store)
            _logger.LogWarning("{What} not loaded at start ({Message}); they are unavailable (fail closed) until they are", _what, e.Message);
        else if (atStart)
            _logger.LogError(e, "{What} not loaded at start ({Message}); they are unavailable (fail closed) until they are", _what, e.Message);
        else if (store)
            _logger.LogWarning("{What} not refreshed ({Message}); the copy in memory stays until it is {MaxStaleness} old", _what, e.Message, _options.MaxStaleness);
        else
            _logger.LogError(e, "{What} not refreshed ({Message}); the copy in memory stays until it is {MaxStaleness} old", _what, e.Message, _options.MaxStaleness);
    }

    private async Task TrySubscribeAsync()
    {
        try
        {
            // The multiplexer subscribes again by itself after a reconnect.
            await _source.SubscribeAsync(Signal).ConfigureAwait(false);
            _subscribed = true;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            _logger.LogWarning("{What}: not subscribed to changes yet ({Message}); relying on periodic checks", _what, e.Message);
        }
    }

    private void Signal()
    {
        try
        {
            _changed.Release();
        }
        catch (Exception e) when (e is SemaphoreFullException or ObjectDisposedException)
        {
            // A sync is already due, or the copy is going away.
        }
    }

    private async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await _changed.WaitAsync(_options.RefreshInterval, ct).ConfigureAwait(false);
                if (!_subscribed) await TrySubscribeAsync().ConfigureAwait(false);
                if (_source is IBankDeltaSource<TBank> && _time.GetElapsedTime(_lastFullReload) >= _nextFullReload && _resync is null or { IsCompleted: true })
                {
                    // Jittered per worker and per round, so workers sharing a store do not all read it at once.
                    _nextFullReload = _options.FullReloadInterval * (0.75 + 0.25 * Random.Shared.NextDouble());
                    _lastFullReload = _time.GetTimestamp();
                    _resync = Task.Run(() => ResyncInBackgroundAsync(ct), CancellationToken.None);
                }
                await SyncAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                Failed(e, atStart: false);
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
        catch (Exception e)
        {
            Failed(e, atStart: false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested) return;
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var task in new[] { _loop, _first, _resync })
        {
            if (task is null) continue;
            try
            {
                await task.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Stopping: the first load's failure was logged (or is moot).
            }
        }
        if (_subscribed)
        {
            try
            {
                await _source.UnsubscribeAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or TimeoutException or ObjectDisposedException)
            {
                // The connection is going away anyway.
            }
        }
        _stop.Dispose();
        _changed.Dispose();
        _syncLock.Dispose();
    }
}
