using Microsoft.Extensions.Logging;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Redis.Banks;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.DigestBanks;

/// <summary>
/// The worker's copy of the exact file-hash banks, kept in step with <see cref="RedisDigestBankStore"/> by
/// <see cref="BankCopySync{TBank, TCopy}"/> like the text banks: loaded at start, and a bank read again only when its
/// version moves (a change message, or the check every <see cref="BankMatcherOptions.RefreshInterval"/>) and indexed
/// alone; the others keep their indexes, which <see cref="DigestIndex.Combine"/> joins without building them again. A copy older than
/// <see cref="BankMatcherOptions.MaxStaleness"/> (or none at all) is not trusted: <see cref="Current"/> is then null.
/// </summary>
public sealed class DigestBankMatcher : IAsyncDisposable
{
    private readonly BankCopySync<DigestIndex, DigestIndex> _sync;

    public DigestBankMatcher(RedisDigestBankStore store, BankMatcherOptions? options = null, ILogger? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _sync = new BankCopySync<DigestIndex, DigestIndex>(new Source(store),
            banks => DigestIndex.Combine(banks.Select(b => b.Value)), "Exact file-hash banks", "digest", options, logger, time);
    }

    public bool IsAvailable => _sync.IsAvailable;

    /// <summary>The banks to match against now; null while they cannot be trusted.</summary>
    public DigestIndex? Current => _sync.Current;

    public IReadOnlyDictionary<string, long> Versions => _sync.Versions;

    /// <summary>Every bank's own index (a bank whose version did not move is the same object after a sync).</summary>
    public IReadOnlyDictionary<string, DigestIndex> Banks => _sync.Banks;

    /// <summary>Loads the banks (waiting at most <paramref name="initialLoadTimeout"/>; an unreachable store is not an
    /// error), subscribes to changes and starts the sync loop.</summary>
    public Task StartAsync(TimeSpan initialLoadTimeout, CancellationToken ct) => _sync.StartAsync(initialLoadTimeout, ct);

    /// <summary>Brings the copy up to date now: reads again the banks whose version moved (every bank on the first load,
    /// under a new store epoch or when versions went backwards).</summary>
    /// <returns>True when the copy changed.</returns>
    /// <exception cref="RedisException">The store could not be read (the old copy stays).</exception>
    public Task<bool> SyncAsync(CancellationToken ct = default) => _sync.SyncAsync(ct);

    public ValueTask DisposeAsync() => _sync.DisposeAsync();

    private sealed class Source(RedisDigestBankStore store) : IBankCopySource<DigestIndex>
    {
        public Task SubscribeAsync(Action changed) => store.Connection.GetSubscriber().SubscribeAsync(store.ChangesChannel, (_, _) => changed());

        public Task UnsubscribeAsync() => store.Connection.GetSubscriber().UnsubscribeAsync(store.ChangesChannel);

        public Task<BankStoreState> GetStateAsync() => store.GetStateAsync();

        public Task<long> GetVersionAsync(string bank) => store.GetVersionAsync(bank);

        public async Task<IReadOnlyDictionary<string, DigestIndex>> LoadAsync(IReadOnlyCollection<string> banks, IReadOnlyDictionary<string, DigestIndex> held, CancellationToken ct) =>
            (await store.LoadBanksAsync(banks).ConfigureAwait(false)).ToDictionary(b => b.Key, b => new DigestIndex(b.Value), StringComparer.Ordinal);
    }
}
