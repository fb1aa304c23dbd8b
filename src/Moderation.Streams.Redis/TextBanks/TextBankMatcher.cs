using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Moderation.Streams.Redis.Banks;
using Moderation.Streams.Text;
using Moderation.Streams.Text.Embeddings;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.TextBanks;

/// <summary>
/// The worker's copy of the text banks, kept in step with <see cref="RedisTextBankStore"/>: loaded at start, reloaded when a
/// change message arrives or the versions moved (checked every <see cref="BankMatcherOptions.RefreshInterval"/>), matched
/// in memory. Like the hash banks, a copy older than <see cref="BankMatcherOptions.MaxStaleness"/> (or none at all) is
/// not trusted: <see cref="Current"/> is then null and the decision fails closed. Meaning banks are embedded with the
/// embedder given (a reload embeds only texts it has not seen); without one, a stored <c>texts</c> bank keeps the copy
/// from loading, so texts fail closed.
/// </summary>
public sealed class TextBankMatcher : IAsyncDisposable
{
    private readonly RedisTextBankStore _store;
    private readonly IConnectionMultiplexer _redis;
    private readonly BankMatcherOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ITextEmbedder? _embedder;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _changed = new(0, 1);
    private TextMatcher? _matcher;
    private IReadOnlyDictionary<string, long> _versions = new Dictionary<string, long>();
    private long _lastSync;
    private Task? _loop;

    public TextBankMatcher(IConnectionMultiplexer redis, RedisTextBankStore store, BankMatcherOptions? options = null, ILogger? logger = null, TimeProvider? time = null,
        ITextEmbedder? embedder = null)
    {
        _embedder = embedder;
        _redis = redis;
        _store = store;
        _options = options ?? new BankMatcherOptions();
        _options.Validate();
        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>True when a copy exists that is fresh enough to match against.</summary>
    public bool IsAvailable => Volatile.Read(ref _matcher) is not null && _time.GetElapsedTime(Interlocked.Read(ref _lastSync)) <= _options.MaxStaleness;

    /// <summary>The banks to match against now; null while they cannot be trusted.</summary>
    public TextMatcher? Current => IsAvailable ? Volatile.Read(ref _matcher) : null;

    /// <summary>The versions of the banks in <see cref="Current"/>.</summary>
    public IReadOnlyDictionary<string, long> Versions => Volatile.Read(ref _versions);

    /// <summary>Loads the banks (waiting at most <paramref name="initialLoadTimeout"/>; an unreachable store is not an
    /// error: the text banks are unavailable until it answers), subscribes to changes and starts the sync loop.</summary>
    public async Task StartAsync(TimeSpan initialLoadTimeout, CancellationToken ct)
    {
        if (_loop is not null) throw new InvalidOperationException("already started");
        try
        {
            await _redis.GetSubscriber().SubscribeAsync(_store.ChangesChannel, (_, _) => Signal()).ConfigureAwait(false);
            await SyncAsync(ct).WaitAsync(initialLoadTimeout, _time, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested) // the store, a bank, the sentence model
        {
            _logger.LogWarning("Text banks not loaded at start ({Message}); texts fail closed until they are", e.Message);
        }
        _loop = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
    }

    /// <summary>Brings the copy up to date now: reloads every bank when any version moved (or on the first load).</summary>
    /// <returns>True when the copy changed.</returns>
    /// <exception cref="RedisException">The store could not be read (the old copy stays).</exception>
    /// <exception cref="TextBankException">A stored bank does not load (the old copy stays).</exception>
    public async Task<bool> SyncAsync(CancellationToken ct)
    {
        var versions = await _store.GetVersionsAsync().ConfigureAwait(false);
        bool changed = Volatile.Read(ref _matcher) is null || !SameVersions(versions, Versions);
        if (changed)
        {
            var (matcher, loaded) = await _store.LoadAsync(_embedder, Volatile.Read(ref _matcher), ct).ConfigureAwait(false);
            Volatile.Write(ref _versions, loaded);
            Volatile.Write(ref _matcher, matcher);
            _logger.LogInformation("Text banks loaded: {Banks}", string.Join(", ", loaded.Select(v => $"{v.Key} v{v.Value}")));
        }
        Interlocked.Exchange(ref _lastSync, _time.GetTimestamp());
        return changed;
    }

    private static bool SameVersions(IReadOnlyDictionary<string, long> a, IReadOnlyDictionary<string, long> b) =>
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
                await SyncAsync(ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException) // the store, a bank, the sentence model: the loop goes on
            {
                _logger.LogWarning("Text banks not refreshed ({Message}); the copy in memory stays until it is {MaxStaleness} old", e.Message, _options.MaxStaleness);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null) await _loop.ConfigureAwait(false);
        try
        {
            await _redis.GetSubscriber().UnsubscribeAsync(_store.ChangesChannel).ConfigureAwait(false);
        }
        catch (RedisException)
        {
        }
        _stop.Dispose();
        _changed.Dispose();
    }
}
