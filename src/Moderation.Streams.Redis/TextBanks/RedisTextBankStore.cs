using System.Globalization;
using System.Text;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Redis.Banks;
using Moderation.Streams.Text;
using Moderation.Streams.Text.Embeddings;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.TextBanks;

/// <summary>
/// Term, domain and meaning (<c>texts</c>) banks in Redis, beside the hash banks and laid out like them: a registry hash
/// (name → kind), per bank a hash of entries (id → one CSV row, as the bank file has it), a version, the time of the last
/// change (<c>changed_at</c>) and per change a delta record (<c>delta:VERSION</c>: the ids it touched, or <c>clear</c>;
/// kept for <see cref="DeltaRetention"/>), written in the change's transaction, conditional on the version it read (a
/// <c>texts</c> bank also keeps its similarity threshold), and a change message on a pub/sub channel.
/// Every write is checked by loading the bank exactly as the worker will (<see cref="TermBank.Load"/>,
/// <see cref="DomainBank.Load"/>, <see cref="MeaningBank.Parse"/>): what the store holds always loads. Meaning banks are
/// stored as text; the worker embeds them when it loads them.
/// </summary>
public sealed class RedisTextBankStore
{
    private const int MaxChangeAttempts = 20;
    // HMGET batch of a change's rows.
    private const int ReadBatch = 2000;

    private readonly IConnectionMultiplexer _redis;
    private readonly string _prefix;
    private readonly TimeProvider _time;

    /// <param name="time">The clock a change's <c>changed_at</c> is written by.</param>
    public RedisTextBankStore(IConnectionMultiplexer redis, string keyPrefix = "moderation:", TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        StoreKeys.CheckPrefix(keyPrefix);
        _redis = redis;
        _prefix = keyPrefix;
        _time = time ?? TimeProvider.System;
        ChangesChannel = RedisChannel.Literal(keyPrefix + "textbanks:changed");
    }

    /// <summary>The pub/sub channel announcing changes (<c>NAME VERSION</c>).</summary>
    public RedisChannel ChangesChannel { get; }

    /// <summary>The registry's key (a Redis hash: bank name → kind).</summary>
    public string RegistryKey => _prefix + "textbanks";

    public string EntriesKey(string bank) => $"{_prefix}textbank:{{{bank}}}:entries";

    public string VersionKey(string bank) => $"{_prefix}textbank:{{{bank}}}:version";

    /// <summary>When the bank last changed (Unix ms, the writer's clock; written with the version, same cluster slot).</summary>
    public string ChangedAtKey(string bank) => $"{_prefix}textbank:{{{bank}}}:changed_at";

    /// <summary>The key of the delta record of the change that made <paramref name="version"/> (the ids it touched, or
    /// <c>clear</c>; same cluster slot).</summary>
    public string DeltaKey(string bank, long version) => string.Create(CultureInfo.InvariantCulture, $"{_prefix}textbank:{{{bank}}}:delta:{version}");

    /// <summary>How long a change's delta record stays readable (a reader further behind in time loads the bank whole).</summary>
    public TimeSpan DeltaRetention { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>A <c>texts</c> bank's threshold (a string; absent = <see cref="MeaningBank.DefaultThreshold"/>).</summary>
    public string ThresholdKey(string bank) => $"{_prefix}textbank:{{{bank}}}:threshold";

    /// <summary>Every text bank, by name.</summary>
    public async Task<IReadOnlyList<TextBankInfo>> ListAsync()
    {
        var db = _redis.GetDatabase();
        var banks = await RegistryAsync().ConfigureAwait(false);
        var counts = banks.Select(b => db.HashLengthAsync(EntriesKey(b.Name))).ToList();
        var versions = await VersionsAsync(banks).ConfigureAwait(false);
        var result = new List<TextBankInfo>(banks.Count);
        for (int i = 0; i < banks.Count; i++)
        {
            float? threshold = banks[i].Kind == TextBankKinds.Texts ? await ThresholdAsync(banks[i].Name).ConfigureAwait(false) : null;
            result.Add(new TextBankInfo(banks[i].Name, banks[i].Kind, await counts[i].ConfigureAwait(false), versions[i], threshold));
        }
        return result;
    }

    /// <summary>The version of every text bank now (what a matcher compares to decide whether to reload): the registry and
    /// one counter per bank, nothing else.</summary>
    public async Task<IReadOnlyDictionary<string, long>> GetVersionsAsync()
    {
        var banks = await RegistryAsync().ConfigureAwait(false);
        var versions = await VersionsAsync(banks).ConfigureAwait(false);
        return banks.Select((b, i) => (b.Name, Version: versions[i])).ToDictionary(b => b.Name, b => b.Version, StringComparer.Ordinal);
    }

    /// <summary>The store's epoch (shared with the hash and digest banks: <c>banks:epoch</c>) and the version of every text
    /// bank: what a matcher compares to decide what to load again.</summary>
    public Task<BankStoreState> GetStateAsync() => BankStoreState.ReadAsync(_redis, _prefix, GetVersionsAsync);

    /// <summary>A bank's version (0 when its version key is gone; a deletion keeps counting it).</summary>
    public async Task<long> GetVersionAsync(string bank) =>
        ParseVersion(await _redis.GetDatabase().StringGetAsync(VersionKey(BankNames.Validate(bank))).ConfigureAwait(false));

    /// <summary>The registry: every valid bank name with its kind, by name.</summary>
    private async Task<List<(string Name, string Kind)>> RegistryAsync()
    {
        var registry = await _redis.GetDatabase().HashGetAllAsync(RegistryKey).ConfigureAwait(false);
        return [.. registry.Select(e => (Name: (string)e.Name!, Kind: (string)e.Value!)).Where(b => BankNames.IsValid(b.Name)).OrderBy(b => b.Name, StringComparer.Ordinal)];
    }

    private async Task<long[]> VersionsAsync(List<(string Name, string Kind)> banks)
    {
        var db = _redis.GetDatabase();
        var values = await Task.WhenAll(banks.Select(b => db.StringGetAsync(VersionKey(b.Name)))).ConfigureAwait(false);
        return [.. values.Select(ParseVersion)];
    }

    /// <summary>Imports the rows of a bank file: adds them (an entry with the same id is replaced), or with
    /// <paramref name="replace"/> empties the bank first.</summary>
    /// <param name="threshold">A <c>texts</c> bank's least cosine similarity (null: keep the bank's, or the default).</param>
    /// <returns>The bank's new version.</returns>
    /// <exception cref="TextBankException">A row is refused (every refused row is listed; nothing is written).</exception>
    /// <exception cref="ArgumentException">A bad name, kind or threshold, or the bank exists with another kind.</exception>
    public async Task<long> ImportAsync(string bank, string kind, TextReader rows, bool replace = false, float? threshold = null)
    {
        BankNames.Validate(bank);
        if (threshold is { } t)
        {
            if (kind != TextBankKinds.Texts) throw new ArgumentException("only a texts bank has a threshold", nameof(threshold));
            if (MeaningBank.ThresholdRefusal(t) is { } why) throw new ArgumentException(why, nameof(threshold));
        }
        var parsed = Rows(bank, kind, rows);
        var db = _redis.GetDatabase();
        await StoreKeys.EnsureEpochAsync(db, _prefix).ConfigureAwait(false);
        // Replaced whole: readers load the bank whole.
        string record = BankDeltaRecords.Of(replace ? null : parsed.Select(r => r.Id));
        long version = await BankDeltaRecords.ImportAsync(db, RegistryKey, EntriesKey(bank), bank, kind, replace, () => BeginChangeAsync(db, bank, record),
            tx =>
            {
                if (parsed.Count > 0) _ = tx.HashSetAsync(EntriesKey(bank), [.. parsed.Select(r => new HashEntry(r.Id, r.Row))]);
                if (threshold is { } th) _ = tx.StringSetAsync(ThresholdKey(bank), th.ToString("R", CultureInfo.InvariantCulture));
            },
            existing => new ArgumentException($"bank '{bank}' holds {existing}, not {kind}: remove it first or pick another name", nameof(kind)),
            $"text bank {bank}", MaxChangeAttempts).ConfigureAwait(false);
        await AnnounceAsync(bank, version).ConfigureAwait(false);
        return version;
    }

    /// <summary>Removes entries by id.</summary>
    /// <returns>How many existed, and the bank's new version.</returns>
    /// <exception cref="KeyNotFoundException">No such bank.</exception>
    public async Task<(long Removed, long Version)> RemoveAsync(string bank, IReadOnlyCollection<string> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        await KindOfAsync(bank).ConfigureAwait(false);
        var db = _redis.GetDatabase();
        await StoreKeys.EnsureEpochAsync(db, _prefix).ConfigureAwait(false);
        var fields = ids.Select(i => (RedisValue)i).ToArray();
        var (version, removed) = await ChangeAsync(db, bank, BankDeltaRecords.Of(ids), tx => tx.HashDeleteAsync(EntriesKey(bank), fields)).ConfigureAwait(false);
        await AnnounceAsync(bank, version).ConfigureAwait(false);
        return (removed, version);
    }

    /// <summary>Deletes a whole bank.</summary>
    /// <exception cref="KeyNotFoundException">No such bank.</exception>
    public async Task DeleteAsync(string bank)
    {
        await KindOfAsync(bank).ConfigureAwait(false);
        var db = _redis.GetDatabase();
        await StoreKeys.EnsureEpochAsync(db, _prefix).ConfigureAwait(false);
        var (version, _) = await ChangeAsync(db, bank, BankDeltaRecords.Of(null), tx =>
        {
            _ = tx.HashDeleteAsync(RegistryKey, bank);
            _ = tx.KeyDeleteAsync(ThresholdKey(bank));
            return tx.KeyDeleteAsync(EntriesKey(bank));
        }).ConfigureAwait(false);
        await AnnounceAsync(bank, version).ConfigureAwait(false);
    }

    /// <summary>The changes after version <paramref name="from"/> up to <paramref name="to"/>: every id they touched and
    /// when the last was written; null when the reader must load the bank whole instead (a record expired or was never
    /// written, one emptied the bank, the span is over <see cref="RedisBankStore.MaxDeltaSpan"/>, or the changes name
    /// more than <paramref name="maxIds"/> ids).</summary>
    public Task<BankChanges?> ReadChangesAsync(string bank, long from, long to, int maxIds = int.MaxValue)
    {
        BankNames.Validate(bank);
        return BankDeltaRecords.ReadAsync(_redis.GetDatabase(), v => DeltaKey(bank, v), ChangedAtKey(bank), from, to, maxIds);
    }

    /// <summary>The rows held under <paramref name="ids"/> now, as a bank file has them (null for an id not in the bank).</summary>
    public async Task<Dictionary<string, string?>> ReadRowsAsync(string bank, IReadOnlyCollection<string> ids)
    {
        BankNames.Validate(bank);
        ArgumentNullException.ThrowIfNull(ids);
        var all = ids.ToArray();
        var db = _redis.GetDatabase();
        var values = await BankDeltaRecords.ReadFieldsAsync(db, EntriesKey(bank), all, ReadBatch).ConfigureAwait(false);
        var found = new Dictionary<string, string?>(all.Length, StringComparer.Ordinal);
        for (int i = 0; i < all.Length; i++) found[all[i]] = values[i].IsNull ? null : (string?)values[i];
        return found;
    }

    // One change: `change` with the version bumped, its time and its record, retried while another writer moves the version.
    private Task<(long Version, T Result)> ChangeAsync<T>(IDatabase db, string bank, string record, Func<ITransaction, Task<T>> change) =>
        BankDeltaRecords.ChangeAsync(() => BeginChangeAsync(db, bank, record), change, $"text bank {bank}", MaxChangeAttempts);

    // A transaction that writes the next version, its time and its record, on condition that the version is still the one read.
    private Task<(ITransaction Tx, long Version)> BeginChangeAsync(IDatabase db, string bank, string record) =>
        BankDeltaRecords.BeginAsync(db, VersionKey(bank), ChangedAtKey(bank), version => DeltaKey(bank, version), record, _time.GetUtcNow(), DeltaRetention);

    /// <summary>The bank's kind.</summary>
    /// <exception cref="KeyNotFoundException">No such bank.</exception>
    public async Task<string> KindOfAsync(string bank)
    {
        BankNames.Validate(bank);
        return (string?)await _redis.GetDatabase().HashGetAsync(RegistryKey, bank).ConfigureAwait(false)
            ?? throw new KeyNotFoundException($"no text bank '{bank}'");
    }

    /// <summary>The bank as a file: a header, then one CSV row per entry, ordered by id.</summary>
    /// <exception cref="KeyNotFoundException">No such bank.</exception>
    public async Task<string> ExportAsync(string bank) => await FileAsync(bank, await KindOfAsync(bank).ConfigureAwait(false)).ConfigureAwait(false);

    /// <summary>A bank of a known <paramref name="kind"/> as a file.</summary>
    private async Task<string> FileAsync(string bank, string kind)
    {
        var rows = await _redis.GetDatabase().HashGetAllAsync(EntriesKey(bank)).ConfigureAwait(false);
        var text = new StringBuilder(kind switch
        {
            TextBankKinds.Terms => "pattern,category,id,mode\n",
            TextBankKinds.Texts => "text,category,id\n",
            _ => "domain,category,id\n",
        });
        foreach (var row in rows.OrderBy(r => (string)r.Name!, StringComparer.Ordinal)) text.Append((string)row.Value!).Append('\n');
        return text.ToString();
    }

    /// <summary>A <c>texts</c> bank's threshold.</summary>
    public async Task<float> ThresholdAsync(string bank)
    {
        var value = await _redis.GetDatabase().StringGetAsync(ThresholdKey(bank)).ConfigureAwait(false);
        return !value.IsNull && float.TryParse((string?)value, NumberStyles.Float, CultureInfo.InvariantCulture, out var t) && MeaningBank.ThresholdRefusal(t) is null
            ? t : MeaningBank.DefaultThreshold;
    }

    /// <summary>Every text bank, loaded as the worker matches with it, and the versions it was loaded at.</summary>
    public Task<(TextMatcher Matcher, IReadOnlyDictionary<string, long> Versions)> LoadAsync(CancellationToken ct = default) => LoadAsync(null, null, ct);

    /// <summary>Every text bank, loaded as the worker matches with it (meaning banks embedded with
    /// <paramref name="embedder"/>, reusing the vectors of <paramref name="previous"/> for texts it already held), and the
    /// versions it was loaded at.</summary>
    /// <exception cref="TextBankException">A meaning bank exists and there is no embedder.</exception>
    public async Task<(TextMatcher Matcher, IReadOnlyDictionary<string, long> Versions)> LoadAsync(ITextEmbedder? embedder, TextMatcher? previous, CancellationToken ct = default)
    {
        // Versions first: a change landing between the two reads makes the next sync load again, never skip it.
        var versions = await GetVersionsAsync().ConfigureAwait(false);
        var banks = await LoadBanksAsync([.. versions.Keys], embedder, previous?.MeaningBanks ?? [], ct).ConfigureAwait(false);
        return (LoadedTextBank.Compose(banks.OrderBy(b => b.Key, StringComparer.Ordinal).Select(b => b.Value), embedder),
            versions.Where(v => banks.ContainsKey(v.Key)).ToDictionary(StringComparer.Ordinal));
    }

    /// <summary>The text banks named, loaded as the worker matches with them; a name not in the registry (any more) is left
    /// out. Meaning banks are embedded with <paramref name="embedder"/>, reusing the vectors of <paramref name="known"/>
    /// (the meaning banks already loaded) for the texts they hold.</summary>
    /// <exception cref="TextBankException">A meaning bank is named and there is no embedder.</exception>
    public async Task<IReadOnlyDictionary<string, LoadedTextBank>> LoadBanksAsync(IReadOnlyCollection<string> banks, ITextEmbedder? embedder,
        IEnumerable<MeaningBank> known, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(banks);
        ArgumentNullException.ThrowIfNull(known);
        var kinds = (await RegistryAsync().ConfigureAwait(false)).ToDictionary(b => b.Name, b => b.Kind, StringComparer.Ordinal);
        var loaded = new Dictionary<string, LoadedTextBank>(StringComparer.Ordinal);
        Dictionary<string, float[]>? vectors = null;
        foreach (var name in banks)
        {
            ct.ThrowIfCancellationRequested();
            if (!kinds.TryGetValue(name, out var kind)) continue;
            var file = await FileAsync(name, kind).ConfigureAwait(false);
            if (kind == TextBankKinds.Terms) loaded[name] = LoadedTextBank.Of(TermBank.Load(name, new StringReader(file)));
            else if (kind == TextBankKinds.Domains) loaded[name] = LoadedTextBank.Of(DomainBank.Load(name, new StringReader(file)));
            else if (kind == TextBankKinds.Texts)
            {
                if (embedder is null) throw new TextBankException(name, [new TextBankRowError(0, "a texts bank needs the sentence model, and none is loaded")]);
                vectors ??= Known(known);
                var entries = MeaningBank.Parse(name, new StringReader(file));
                loaded[name] = LoadedTextBank.Of(await MeaningBank.BuildAsync(name, entries, await ThresholdAsync(name).ConfigureAwait(false), embedder,
                    text => vectors.GetValueOrDefault(text), ct).ConfigureAwait(false));
            }
        }
        return loaded;
    }

    // The vectors a reload can reuse: every text of the meaning banks already loaded.
    private static Dictionary<string, float[]> Known(IEnumerable<MeaningBank> banks)
    {
        var known = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var bank in banks)
            foreach (var (text, vector) in bank.Vectors()) known.TryAdd(text, vector);
        return known;
    }

    private static List<(string Id, string Row)> Rows(string bank, string kind, TextReader rows) => kind switch
    {
        TextBankKinds.Terms => [.. TermBank.Load(bank, rows).Entries.Select(e => (e.Id, Csv(e.Pattern, e.Category, e.Id, e.Mode.ToString().ToLowerInvariant())))],
        TextBankKinds.Domains => [.. DomainBank.Load(bank, rows).Entries.Select(e => (e.Id, Csv(e.Domain, e.Category, e.Id)))],
        TextBankKinds.Texts => [.. MeaningBank.Parse(bank, rows).Select(e => (e.Id, Csv(e.Text, e.Category, e.Id)))],
        _ => throw new ArgumentException($"kind '{kind}' must be one of {string.Join(", ", TextBankKinds.All)}", nameof(kind)),
    };

    /// <summary>One RFC 4180 row, every field quoted (a pattern may hold commas, quotes or leading spaces).</summary>
    private static string Csv(params string[] fields) => string.Join(',', fields.Select(f => "\"" + f.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""));

    /// <summary>When the bank's last change was written (null: by a writer older than <see cref="ChangedAtKey"/>).</summary>
    public async Task<DateTimeOffset?> GetChangedAtAsync(string bank) =>
        BankDeltaRecords.ParseChangedAt(await _redis.GetDatabase().StringGetAsync(ChangedAtKey(BankNames.Validate(bank))).ConfigureAwait(false));

    private Task AnnounceAsync(string bank, long version) =>
        _redis.GetSubscriber().PublishAsync(ChangesChannel, string.Create(CultureInfo.InvariantCulture, $"{bank} {version}"));

    private static long ParseVersion(RedisValue value) => value.IsNull ? 0 : (long)value;
}
