using Microsoft.Extensions.Logging;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Redis.Banks;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.DigestBanks;

/// <summary>
/// The worker's copy of the exact file-hash banks, kept in step with <see cref="RedisDigestBankStore"/> by
/// <see cref="BankCopySync{TBank, TCopy}"/>: loaded at start; when a bank's version moves (a change message, or the check
/// every <see cref="BankMatcherOptions.RefreshInterval"/>) the changes' delta records name the ids touched, only those
/// entries are read, and the bank's index takes them by <see cref="DigestIndex.With"/> (a new index sharing the tables
/// built for the bank, so readers of the old one are undisturbed); the bank is read whole only when the records do not
/// reach back (expired, a bank replaced or emptied, a new store epoch, a writer older than the records) or a change
/// touches most of it. Every <see cref="BankMatcherOptions.FullReloadInterval"/> (jittered per worker) every bank is read
/// whole in the background to catch anything the records could have missed. The other banks keep their indexes, which
/// <see cref="DigestIndex.Combine"/> joins without building them again. A copy older than
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

    /// <summary>Banks brought up to date so far by reading them whole, and from their changes' records.</summary>
    public (long Whole, long FromChanges) CatchUps => _sync.CatchUps;

    /// <summary>Loads the banks (waiting at most <paramref name="initialLoadTimeout"/>; an unreachable store is not an
    /// error), subscribes to changes and starts the sync loop.</summary>
    public Task StartAsync(TimeSpan initialLoadTimeout, CancellationToken ct) => _sync.StartAsync(initialLoadTimeout, ct);

    /// <summary>Brings the copy up to date now: reads again the banks whose version moved (every bank on the first load,
    /// under a new store epoch or when versions went backwards).</summary>
    /// <returns>True when the copy changed.</returns>
    /// <exception cref="RedisException">The store could not be read (the old copy stays).</exception>
    public Task<bool> SyncAsync(CancellationToken ct = default) => _sync.SyncAsync(ct);

    public ValueTask DisposeAsync() => _sync.DisposeAsync();

    /// <summary>Brings the copy up to date by reading every bank whole in the background, then catching up on the changes
    /// made meanwhile (what the periodic re-read does).</summary>
    public Task<bool> ResyncAsync(CancellationToken ct = default) => _sync.ResyncAsync(ct);

    private sealed class Source(RedisDigestBankStore store) : IBankDeltaSource<DigestIndex>
    {
        public Task SubscribeAsync(Action changed) => store.Connection.GetSubscriber().SubscribeAsync(store.ChangesChannel, (_, _) => changed());

        public Task UnsubscribeAsync() => store.Connection.GetSubscriber().UnsubscribeAsync(store.ChangesChannel);

        public Task<BankStoreState> GetStateAsync() => store.GetStateAsync();

        public Task<long> GetVersionAsync(string bank) => store.GetVersionAsync(bank);

        public Task<DateTimeOffset?> GetChangedAtAsync(string bank) => store.GetChangedAtAsync(bank);

        public async Task<IReadOnlyDictionary<string, DigestIndex>> LoadAsync(IReadOnlyCollection<string> banks, IReadOnlyDictionary<string, DigestIndex> held, CancellationToken ct) =>
            (await store.LoadBanksAsync(banks).ConfigureAwait(false)).ToDictionary(b => b.Key, b => new DigestIndex(b.Value), StringComparer.Ordinal);

        public Task<BankChanges?> ReadChangesAsync(string bank, DigestIndex held, long from, long to) => store.ReadChangesAsync(bank, from, to, MaxIds(held));

        public async Task<DigestIndex?> ApplyAsync(string bank, DigestIndex held, BankChanges changes, CancellationToken ct)
        {
            if (changes.Ids.Count > MaxIds(held)) return null;
            if (changes.Ids.Count == 0) return held;
            if (await store.KindOfAsync(bank).ConfigureAwait(false) is not { } kind) return null; // deleted meanwhile: the next sync sees it
            return held.With(bank, await store.ReadEntriesAsync(bank, kind, changes.Ids).ConfigureAwait(false));
        }

        // Changes touching more of the bank (an import of a whole list again) are read whole: as many entries to read, and
        // one build of the tables rather than a long overlay built into them at once.
        private static int MaxIds(DigestIndex held) => Math.Max(DigestIndex.MinOverlayBeforeRebuild, held.Count / 2);
    }
}
