using Microsoft.Extensions.Logging;
using Moderation.Streams.Redis.Banks;
using Moderation.Streams.Text;
using Moderation.Streams.Text.Embeddings;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.TextBanks;

/// <summary>
/// The worker's copy of the text banks, kept in step with <see cref="RedisTextBankStore"/> by
/// <see cref="BankCopySync{TBank, TCopy}"/>: loaded at start; when a bank's version moves (a change message, or the check
/// every <see cref="BankMatcherOptions.RefreshInterval"/>), a term or domain bank takes the rows its changes' delta
/// records name (<see cref="TermBank.With"/>, <see cref="DomainBank.With"/>: only those rows parsed and compiled) and a
/// meaning bank is loaded again whole; a term or domain bank is loaded whole too when the records do not reach back
/// (expired, a bank replaced, a new store epoch) or a change touches most of it, and every bank is loaded whole in the
/// background every <see cref="BankMatcherOptions.FullReloadInterval"/> (jittered per worker); the others are kept as loaded.
/// Like the hash banks, a copy older than <see cref="BankMatcherOptions.MaxStaleness"/> (or none at all) is not trusted:
/// <see cref="Current"/> is then null and the decision fails closed. Meaning banks are embedded with the embedder given (a
/// reload embeds only texts it has not seen); without one, a stored <c>texts</c> bank keeps the copy from loading, so
/// texts fail closed.
/// </summary>
public sealed class TextBankMatcher : IAsyncDisposable
{
    private readonly BankCopySync<LoadedTextBank, TextMatcher> _sync;

    public TextBankMatcher(IConnectionMultiplexer redis, RedisTextBankStore store, BankMatcherOptions? options = null, ILogger? logger = null, TimeProvider? time = null,
        ITextEmbedder? embedder = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentNullException.ThrowIfNull(store);
        _sync = new BankCopySync<LoadedTextBank, TextMatcher>(new Source(redis, store, embedder),
            banks => LoadedTextBank.Compose(banks.Select(b => b.Value), embedder), "Text banks", "text", options, logger, time);
    }

    /// <summary>True when a copy exists that is fresh enough to match against.</summary>
    public bool IsAvailable => _sync.IsAvailable;

    /// <summary>The banks to match against now; null while they cannot be trusted.</summary>
    public TextMatcher? Current => _sync.Current;

    /// <summary>The versions of the banks in <see cref="Current"/>.</summary>
    public IReadOnlyDictionary<string, long> Versions => _sync.Versions;

    /// <summary>Every bank of the copy as loaded (a bank whose version did not move is the same object after a sync).</summary>
    public IReadOnlyDictionary<string, LoadedTextBank> Banks => _sync.Banks;

    /// <summary>Loads the banks (waiting at most <paramref name="initialLoadTimeout"/>; an unreachable store, a bank that
    /// does not load or a sentence model that does not is not an error: texts fail closed until they load), subscribes to
    /// changes and starts the sync loop.</summary>
    public Task StartAsync(TimeSpan initialLoadTimeout, CancellationToken ct) => _sync.StartAsync(initialLoadTimeout, ct);

    /// <summary>Brings the copy up to date now: loads again the banks whose version moved (every bank on the first load,
    /// under a new store epoch or when versions went backwards).</summary>
    /// <returns>True when the copy changed.</returns>
    /// <exception cref="RedisException">The store could not be read (the old copy stays).</exception>
    /// <exception cref="TextBankException">A stored bank does not load (the old copy stays).</exception>
    public Task<bool> SyncAsync(CancellationToken ct) => _sync.SyncAsync(ct);

    public ValueTask DisposeAsync() => _sync.DisposeAsync();

    /// <summary>Banks brought up to date so far by loading them whole, and from their changes' records.</summary>
    public (long Whole, long FromChanges) CatchUps => _sync.CatchUps;

    /// <summary>Loads every bank whole in the background, then catches up on the changes made meanwhile (what the
    /// periodic re-read does).</summary>
    public Task<bool> ResyncAsync(CancellationToken ct) => _sync.ResyncAsync(ct);

    private sealed class Source(IConnectionMultiplexer redis, RedisTextBankStore store, ITextEmbedder? embedder) : IBankDeltaSource<LoadedTextBank>
    {
        public Task SubscribeAsync(Action changed) => redis.GetSubscriber().SubscribeAsync(store.ChangesChannel, (_, _) => changed());

        public Task UnsubscribeAsync() => redis.GetSubscriber().UnsubscribeAsync(store.ChangesChannel);

        public Task<BankStoreState> GetStateAsync() => store.GetStateAsync();

        public Task<long> GetVersionAsync(string bank) => store.GetVersionAsync(bank);

        public Task<DateTimeOffset?> GetChangedAtAsync(string bank) => store.GetChangedAtAsync(bank);

        public Task<IReadOnlyDictionary<string, LoadedTextBank>> LoadAsync(IReadOnlyCollection<string> banks, IReadOnlyDictionary<string, LoadedTextBank> held, CancellationToken ct) =>
            store.LoadBanksAsync(banks, embedder, held.Values.Select(b => b.Meanings).OfType<MeaningBank>(), ct);

        // A meaning bank is loaded whole (its texts already embedded are not embedded again; its threshold may have moved).
        public Task<BankChanges?> ReadChangesAsync(string bank, LoadedTextBank held, long from, long to) =>
            MaxIds(held) is int max ? store.ReadChangesAsync(bank, from, to, max) : Task.FromResult<BankChanges?>(null);

        public async Task<LoadedTextBank?> ApplyAsync(string bank, LoadedTextBank held, BankChanges changes, CancellationToken ct)
        {
            if (MaxIds(held) is not int max || changes.Ids.Count > max) return null;
            if (changes.Ids.Count == 0) return held;
            var rows = await store.ReadRowsAsync(bank, changes.Ids).ConfigureAwait(false);
            try
            {
                return held.Terms is { } terms ? LoadedTextBank.Of(terms.With(rows))
                    : held.Domains is { } domains ? LoadedTextBank.Of(domains.With(rows))
                    : null;
            }
            catch (InvalidOperationException)
            {
                return null; // a bank holding an id twice (never one read from the store): loaded whole
            }
        }

        // Changes touching more of a term or domain bank (a file imported again) load it whole.
        private static int? MaxIds(LoadedTextBank held) =>
            held.Terms is { } terms ? Math.Max(1024, terms.Entries.Count / 2)
            : held.Domains is { } domains ? Math.Max(1024, domains.Entries.Count / 2)
            : null;
    }
}
