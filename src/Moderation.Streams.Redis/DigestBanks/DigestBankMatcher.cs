using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Redis.Banks;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.DigestBanks;

/// <summary>
/// The worker's copy of the exact file-hash banks, kept in step with <see cref="RedisDigestBankStore"/> like the text
/// banks: loaded at start, reloaded when a change message arrives or the versions moved (checked every
/// <see cref="BankMatcherOptions.RefreshInterval"/>), matched in memory. A copy older than
/// <see cref="BankMatcherOptions.MaxStaleness"/> (or none at all) is not trusted: <see cref="Current"/> is then null.
/// </summary>
public sealed class DigestBankMatcher : IAsyncDisposable
{
    private readonly RedisDigestBankStore _store;
    private readonly BankMatcherOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _changed = new(0, 1);
    private DigestIndex? _index;
    private IReadOnlyDictionary<string, long> _versions = new Dictionary<string, long>();
    private long _lastSync;
    private Task? _loop;

    public DigestBankMatcher(RedisDigestBankStore store, BankMatcherOptions? options = null, ILogger? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _options = options ?? new BankMatcherOptions();
        _options.Validate();
        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
    }

    public bool IsAvailable => Volatile.Read(ref _index) is not null && _time.GetElapsedTime(Interlocked.Read(ref _lastSync)) <= _options.MaxStaleness;

    /// <summary>The banks to match against now; null while they cannot be trusted.</summary>
    public DigestIndex? Current => IsAvailable ? Volatile.Read(ref _index) : null;

    public IReadOnlyDictionary<string, long> Versions => Volatile.Read(ref _versions);

    /// <summary>Loads the banks (waiting at most <paramref name="initialLoadTimeout"/>; an unreachable store is not an
    /// error), subscribes to changes and starts the sync loop.</summary>
    public async Task StartAsync(TimeSpan initialLoadTimeout, CancellationToken ct)
    {
        if (_loop is not null) throw new InvalidOperationException("already started");
        try
        {
            await _store.Connection.GetSubscriber().SubscribeAsync(_store.ChangesChannel, (_, _) => Signal()).ConfigureAwait(false);
            await SyncAsync().WaitAsync(initialLoadTimeout, _time, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            _logger.LogWarning("Exact file-hash banks not loaded at start ({Message}); they are unavailable until they are", e.Message);
        }
        _loop = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
    }

    /// <summary>Brings the copy up to date now (every digest bank reloaded when any version moved).</summary>
    /// <returns>True when the copy changed.</returns>
    /// <exception cref="RedisException">The store could not be read (the old copy stays).</exception>
    public async Task<bool> SyncAsync()
    {
        var versions = await _store.GetVersionsAsync().ConfigureAwait(false);
        bool changed = Volatile.Read(ref _index) is null || !Same(versions, Versions);
        if (changed)
        {
            var (index, loaded) = await _store.LoadAllAsync().ConfigureAwait(false);
            Volatile.Write(ref _versions, loaded);
            Volatile.Write(ref _index, index);
            _logger.LogInformation("Exact file-hash banks loaded: {Banks} banks, {Entries} digests", loaded.Count, index.Count);
        }
        Interlocked.Exchange(ref _lastSync, _time.GetTimestamp());
        return changed;
    }

    private static bool Same(IReadOnlyDictionary<string, long> a, IReadOnlyDictionary<string, long> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && v == kv.Value);

    private void Signal()
    {
        try
        {
            _changed.Release();
        }
        catch (SemaphoreFullException)
        {
            // A sync is already due.
        }
    }

    private async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await _changed.WaitAsync(_options.RefreshInterval, ct).ConfigureAwait(false);
                await SyncAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                _logger.LogWarning("Exact file-hash banks not refreshed ({Message}); the copy in memory stays until it is {MaxStaleness} old", e.Message, _options.MaxStaleness);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null) await _loop.ConfigureAwait(false);
        try
        {
            await _store.Connection.GetSubscriber().UnsubscribeAsync(_store.ChangesChannel).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or ObjectDisposedException)
        {
            // The connection is going away anyway.
        }
        _stop.Dispose();
        _changed.Dispose();
    }
}
