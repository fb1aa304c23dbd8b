using System.Globalization;
using System.Text;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Text;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.TextBanks;

/// <summary>
/// Term and domain banks in Redis, beside the hash banks and laid out like them: a registry hash (name → kind), per bank
/// a hash of entries (id → one CSV row, as the bank file has it) and a version counter bumped by every change, and a
/// change message on a pub/sub channel. Every write is checked by loading the bank exactly as the worker will
/// (<see cref="TermBank.Load"/>, <see cref="DomainBank.Load"/>): what the store holds always loads.
/// </summary>
public sealed class RedisTextBankStore
{
    private readonly IConnectionMultiplexer _redis;
    private readonly string _prefix;

    public RedisTextBankStore(IConnectionMultiplexer redis, string keyPrefix = "moderation:")
    {
        ArgumentNullException.ThrowIfNull(redis);
        StoreKeys.CheckPrefix(keyPrefix);
        _redis = redis;
        _prefix = keyPrefix;
        ChangesChannel = RedisChannel.Literal(keyPrefix + "textbanks:changed");
    }

    /// <summary>The pub/sub channel announcing changes (<c>NAME VERSION</c>).</summary>
    public RedisChannel ChangesChannel { get; }

    /// <summary>The registry's key (a Redis hash: bank name → kind).</summary>
    public string RegistryKey => _prefix + "textbanks";

    public string EntriesKey(string bank) => $"{_prefix}textbank:{{{bank}}}:entries";

    public string VersionKey(string bank) => $"{_prefix}textbank:{{{bank}}}:version";

    /// <summary>Every text bank, by name.</summary>
    public async Task<IReadOnlyList<TextBankInfo>> ListAsync()
    {
        var db = _redis.GetDatabase();
        var banks = await RegistryAsync().ConfigureAwait(false);
        var counts = banks.Select(b => db.HashLengthAsync(EntriesKey(b.Name))).ToList();
        var versions = await VersionsAsync(banks).ConfigureAwait(false);
        var result = new List<TextBankInfo>(banks.Count);
        for (int i = 0; i < banks.Count; i++)
            result.Add(new TextBankInfo(banks[i].Name, banks[i].Kind, await counts[i].ConfigureAwait(false), versions[i]));
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
    /// <returns>The bank's new version.</returns>
    /// <exception cref="TextBankException">A row is refused (every refused row is listed; nothing is written).</exception>
    /// <exception cref="ArgumentException">A bad name or kind, or the bank exists with another kind.</exception>
    public async Task<long> ImportAsync(string bank, string kind, TextReader rows, bool replace = false)
    {
        BankNames.Validate(bank);
        var parsed = Rows(bank, kind, rows);
        var db = _redis.GetDatabase();
        var existing = (string?)await db.HashGetAsync(RegistryKey, bank).ConfigureAwait(false);
        if (existing is not null && existing != kind)
            throw new ArgumentException($"bank '{bank}' holds {existing}, not {kind}: remove it first or pick another name", nameof(kind));
        var tx = db.CreateTransaction();
        if (existing is null) tx.AddCondition(Condition.HashNotExists(RegistryKey, bank));
        else tx.AddCondition(Condition.HashEqual(RegistryKey, bank, kind));
        _ = tx.HashSetAsync(RegistryKey, bank, kind);
        if (replace) _ = tx.KeyDeleteAsync(EntriesKey(bank));
        if (parsed.Count > 0) _ = tx.HashSetAsync(EntriesKey(bank), [.. parsed.Select(r => new HashEntry(r.Id, r.Row))]);
        var version = tx.StringIncrementAsync(VersionKey(bank));
        if (!await tx.ExecuteAsync().ConfigureAwait(false))
            throw new InvalidOperationException($"bank '{bank}' changed kind during the import: try again");
        long v = await version.ConfigureAwait(false);
        await AnnounceAsync(bank, v).ConfigureAwait(false);
        return v;
    }

    /// <summary>Removes entries by id.</summary>
    /// <returns>How many existed, and the bank's new version.</returns>
    /// <exception cref="KeyNotFoundException">No such bank.</exception>
    public async Task<(long Removed, long Version)> RemoveAsync(string bank, IReadOnlyCollection<string> ids)
    {
        await KindOfAsync(bank).ConfigureAwait(false);
        var db = _redis.GetDatabase();
        var tx = db.CreateTransaction();
        var removed = tx.HashDeleteAsync(EntriesKey(bank), [.. ids.Select(i => (RedisValue)i)]);
        var version = tx.StringIncrementAsync(VersionKey(bank));
        await tx.ExecuteAsync().ConfigureAwait(false);
        long v = await version.ConfigureAwait(false);
        await AnnounceAsync(bank, v).ConfigureAwait(false);
        return (await removed.ConfigureAwait(false), v);
    }

    /// <summary>Deletes a whole bank.</summary>
    /// <exception cref="KeyNotFoundException">No such bank.</exception>
    public async Task DeleteAsync(string bank)
    {
        await KindOfAsync(bank).ConfigureAwait(false);
        var db = _redis.GetDatabase();
        var tx = db.CreateTransaction();
        _ = tx.HashDeleteAsync(RegistryKey, bank);
        _ = tx.KeyDeleteAsync(EntriesKey(bank));
        var version = tx.StringIncrementAsync(VersionKey(bank));
        await tx.ExecuteAsync().ConfigureAwait(false);
        await AnnounceAsync(bank, await version.ConfigureAwait(false)).ConfigureAwait(false);
    }

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
        var text = new StringBuilder(kind == TextBankKinds.Terms ? "pattern,category,id,mode\n" : "domain,category,id\n");
        foreach (var row in rows.OrderBy(r => (string)r.Name!, StringComparer.Ordinal)) text.Append((string)row.Value!).Append('\n');
        return text.ToString();
    }

    /// <summary>Every text bank, loaded as the worker matches with it, and the versions it was loaded at.</summary>
    public async Task<(TextMatcher Matcher, IReadOnlyDictionary<string, long> Versions)> LoadAsync(CancellationToken ct = default)
    {
        var terms = new List<TermBank>();
        var domains = new List<DomainBank>();
        var versions = new Dictionary<string, long>(StringComparer.Ordinal);
        // Versions first: a change landing between the two reads makes the next sync load again, never skip it.
        var banks = await RegistryAsync().ConfigureAwait(false);
        var bankVersions = await VersionsAsync(banks).ConfigureAwait(false);
        for (int i = 0; i < banks.Count; i++)
        {
            ct.ThrowIfCancellationRequested();
            var (name, kind) = banks[i];
            var file = await FileAsync(name, kind).ConfigureAwait(false);
            versions[name] = bankVersions[i];
            if (kind == TextBankKinds.Terms) terms.Add(TermBank.Load(name, new StringReader(file)));
            else if (kind == TextBankKinds.Domains) domains.Add(DomainBank.Load(name, new StringReader(file)));
        }
        return (new TextMatcher(terms, domains), versions);
    }

    private static List<(string Id, string Row)> Rows(string bank, string kind, TextReader rows) => kind switch
    {
        TextBankKinds.Terms => [.. TermBank.Load(bank, rows).Entries.Select(e => (e.Id, Csv(e.Pattern, e.Category, e.Id, e.Mode.ToString().ToLowerInvariant())))],
        TextBankKinds.Domains => [.. DomainBank.Load(bank, rows).Entries.Select(e => (e.Id, Csv(e.Domain, e.Category, e.Id)))],
        _ => throw new ArgumentException($"kind '{kind}' must be one of {string.Join(", ", TextBankKinds.All)}", nameof(kind)),
    };

    /// <summary>One RFC 4180 row, every field quoted (a pattern may hold commas, quotes or leading spaces).</summary>
    private static string Csv(params string[] fields) => string.Join(',', fields.Select(f => "\"" + f.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""));

    private Task AnnounceAsync(string bank, long version) =>
        _redis.GetSubscriber().PublishAsync(ChangesChannel, string.Create(CultureInfo.InvariantCulture, $"{bank} {version}"));

    private static long ParseVersion(RedisValue value) => value.IsNull ? 0 : (long)value;
}
