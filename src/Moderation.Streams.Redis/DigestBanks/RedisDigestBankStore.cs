using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Redis.Banks;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.DigestBanks;

/// <summary>
/// Exact file-hash banks (MD5 or SHA-256 of the media bytes) in Redis, laid out like the PDQ banks: a registry hash
/// <c>digestbanks</c> (name → kind), per bank a hash <c>digestbank:{NAME}:entries</c> (id → compact JSON of digest, label,
/// source, added_at) and a version <c>digestbank:{NAME}:version</c> bumped in the same transaction as every change (one
/// cluster slot per bank), and the channel <c>digestbanks:changed</c>. A bank holds one kind.
/// </summary>
public sealed partial class RedisDigestBankStore
{
    private readonly IConnectionMultiplexer _redis;
    private readonly string _prefix;

    public RedisDigestBankStore(IConnectionMultiplexer redis, string keyPrefix = "moderation:")
    {
        ArgumentNullException.ThrowIfNull(redis);
        StoreKeys.CheckPrefix(keyPrefix);
        _redis = redis;
        _prefix = keyPrefix;
        ChangesChannel = RedisChannel.Literal(keyPrefix + "digestbanks:changed");
    }

    public RedisChannel ChangesChannel { get; }
    public IConnectionMultiplexer Connection => _redis;
    public string RegistryKey => _prefix + "digestbanks";
    public string EntriesKey(string bank) => $"{_prefix}digestbank:{{{bank}}}:entries";
    public string VersionKey(string bank) => $"{_prefix}digestbank:{{{bank}}}:version";

    /// <summary>Every digest bank with its kind, entry count and version, by name.</summary>
    public async Task<IReadOnlyList<(string Name, string Kind, long Count, long Version)>> ListAsync()
    {
        var db = _redis.GetDatabase();
        var banks = await RegistryAsync().ConfigureAwait(false);
        var result = new List<(string, string, long, long)>(banks.Count);
        foreach (var (name, kind) in banks)
            result.Add((name, kind, await db.HashLengthAsync(EntriesKey(name)).ConfigureAwait(false), ParseVersion(await db.StringGetAsync(VersionKey(name)).ConfigureAwait(false))));
        return result;
    }

    /// <summary>The version of every digest bank now.</summary>
    public async Task<IReadOnlyDictionary<string, long>> GetVersionsAsync()
    {
        var db = _redis.GetDatabase();
        var banks = await RegistryAsync().ConfigureAwait(false);
        var values = await Task.WhenAll(banks.Select(b => db.StringGetAsync(VersionKey(b.Name)))).ConfigureAwait(false);
        return banks.Select((b, i) => (b.Name, V: ParseVersion(values[i]))).ToDictionary(b => b.Name, b => b.V, StringComparer.Ordinal);
    }

    /// <summary>The store's epoch (shared with the hash and text banks: <c>banks:epoch</c>) and the version of every digest
    /// bank: what a matcher compares to decide what to load again.</summary>
    public Task<BankStoreState> GetStateAsync() => BankStoreState.ReadAsync(_redis, _prefix, GetVersionsAsync);

    /// <summary>A bank's version (0 when its version key is gone; a deletion keeps counting it).</summary>
    public async Task<long> GetVersionAsync(string bank) =>
        ParseVersion(await _redis.GetDatabase().StringGetAsync(VersionKey(BankNames.Validate(bank))).ConfigureAwait(false));

    /// <summary>The bank's kind, or null when there is no such digest bank.</summary>
    public async Task<string?> KindOfAsync(string bank) =>
        (string?)await _redis.GetDatabase().HashGetAsync(RegistryKey, BankNames.Validate(bank)).ConfigureAwait(false);

    /// <summary>Adds or replaces entries (by id); with <paramref name="replace"/> the bank is emptied first. One transaction.</summary>
    /// <returns>The bank's new version.</returns>
    /// <exception cref="ArgumentException">A bad name or kind, an entry of another bank or kind, refused text, or the bank
    /// holds the other kind.</exception>
    public async Task<long> ImportAsync(string bank, string kind, IReadOnlyList<DigestEntry> entries, bool replace = false)
    {
        BankNames.Validate(bank);
        if (!DigestKinds.IsKnown(kind)) throw new ArgumentException($"kind '{kind}' must be one of {string.Join(", ", DigestKinds.All)}", nameof(kind));
        ArgumentNullException.ThrowIfNull(entries);
        foreach (var e in entries)
        {
            if (e.Bank != bank || e.Kind != kind) throw new ArgumentException($"entry {BankText.Shown(e.Id)} is a {e.Kind} entry of {e.Bank}, not a {kind} entry of {bank}", nameof(entries));
            if (!DigestKinds.IsDigest(kind, e.Digest)) throw new ArgumentException($"entry {BankText.Shown(e.Id)}: not a {kind} digest", nameof(entries));
            if (BankText.Refusal(e.Id, e.Label, e.Source) is { } refused) throw new ArgumentException($"entry {BankText.Shown(e.Id)}: {refused}", nameof(entries));
        }
        var db = _redis.GetDatabase();
        var existing = (string?)await db.HashGetAsync(RegistryKey, bank).ConfigureAwait(false);
        if (existing is not null && existing != kind)
            throw new ArgumentException($"bank '{bank}' holds {existing} digests, not {kind}: remove it first or pick another name", nameof(kind));
        await StoreKeys.EnsureEpochAsync(db, _prefix).ConfigureAwait(false);
        var tx = db.CreateTransaction();
        if (existing is null) tx.AddCondition(Condition.HashNotExists(RegistryKey, bank));
        else tx.AddCondition(Condition.HashEqual(RegistryKey, bank, kind));
        _ = tx.HashSetAsync(RegistryKey, bank, kind);
        if (replace) _ = tx.KeyDeleteAsync(EntriesKey(bank));
        if (entries.Count > 0) _ = tx.HashSetAsync(EntriesKey(bank), [.. entries.Select(e => new HashEntry(e.Id, Encode(e)))]);
        var version = tx.StringIncrementAsync(VersionKey(bank));
        if (!await tx.ExecuteAsync().ConfigureAwait(false))
            throw new InvalidOperationException($"bank '{bank}' changed kind during the import: try again");
        long v = await version.ConfigureAwait(false);
        await AnnounceAsync(bank, v).ConfigureAwait(false);
        return v;
    }

    /// <summary>Removes entries by id; returns how many existed.</summary>
    public async Task<long> RemoveAsync(string bank, IReadOnlyCollection<string> ids)
    {
        BankNames.Validate(bank);
        ArgumentNullException.ThrowIfNull(ids);
        await StoreKeys.EnsureEpochAsync(_redis.GetDatabase(), _prefix).ConfigureAwait(false);
        var tx = _redis.GetDatabase().CreateTransaction();
        var removed = tx.HashDeleteAsync(EntriesKey(bank), [.. ids.Select(i => (RedisValue)i)]);
        var version = tx.StringIncrementAsync(VersionKey(bank));
        await tx.ExecuteAsync().ConfigureAwait(false);
        await AnnounceAsync(bank, await version.ConfigureAwait(false)).ConfigureAwait(false);
        return await removed.ConfigureAwait(false);
    }

    /// <summary>Deletes a whole bank (its version keeps counting, so readers see the change); false when there was none.</summary>
    public async Task<bool> DeleteAsync(string bank)
    {
        BankNames.Validate(bank);
        await StoreKeys.EnsureEpochAsync(_redis.GetDatabase(), _prefix).ConfigureAwait(false);
        var tx = _redis.GetDatabase().CreateTransaction();
        var registered = tx.HashDeleteAsync(RegistryKey, bank);
        _ = tx.KeyDeleteAsync(EntriesKey(bank));
        var version = tx.StringIncrementAsync(VersionKey(bank));
        await tx.ExecuteAsync().ConfigureAwait(false);
        await AnnounceAsync(bank, await version.ConfigureAwait(false)).ConfigureAwait(false);
        return await registered.ConfigureAwait(false);
    }

    /// <summary>A bank's entries (those that cannot be decoded are skipped), ordered by id.</summary>
    public async Task<List<DigestEntry>> LoadAsync(string bank, string kind)
    {
        var fields = await _redis.GetDatabase().HashGetAllAsync(EntriesKey(bank)).ConfigureAwait(false);
        var entries = new List<DigestEntry>(fields.Length);
        foreach (var f in fields)
            if (Decode(bank, kind, f.Name!, f.Value) is { } e) entries.Add(e);
        entries.Sort((a, b) => string.CompareOrdinal(a.Id, b.Id));
        return entries;
    }

    /// <summary>Every digest bank as one index, with the versions read before the entries (a change landing between the
    /// reads makes the next check load again, never skip it).</summary>
    public async Task<(DigestIndex Index, IReadOnlyDictionary<string, long> Versions)> LoadAllAsync()
    {
        var versions = await GetVersionsAsync().ConfigureAwait(false);
        var banks = await LoadBanksAsync([.. versions.Keys]).ConfigureAwait(false);
        return (new DigestIndex(banks.Values.SelectMany(b => b)), versions);
    }

    /// <summary>The digest banks named, each its entries ordered by id; a name not in the registry (any more) is left out.</summary>
    public async Task<IReadOnlyDictionary<string, IReadOnlyList<DigestEntry>>> LoadBanksAsync(IReadOnlyCollection<string> banks)
    {
        ArgumentNullException.ThrowIfNull(banks);
        var kinds = (await RegistryAsync().ConfigureAwait(false)).ToDictionary(b => b.Name, b => b.Kind, StringComparer.Ordinal);
        var loaded = new Dictionary<string, IReadOnlyList<DigestEntry>>(StringComparer.Ordinal);
        foreach (var name in banks)
            if (kinds.TryGetValue(name, out var kind)) loaded[name] = await LoadAsync(name, kind).ConfigureAwait(false);
        return loaded;
    }

    private async Task<List<(string Name, string Kind)>> RegistryAsync()
    {
        var registry = await _redis.GetDatabase().HashGetAllAsync(RegistryKey).ConfigureAwait(false);
        return [.. registry.Select(e => (Name: (string)e.Name!, Kind: (string)e.Value!))
            .Where(b => BankNames.IsValid(b.Name) && DigestKinds.IsKnown(b.Kind)).OrderBy(b => b.Name, StringComparer.Ordinal)];
    }

    private Task AnnounceAsync(string bank, long version) =>
        _redis.GetSubscriber().PublishAsync(ChangesChannel, string.Create(CultureInfo.InvariantCulture, $"{bank} {version}"));

    private static long ParseVersion(RedisValue value) => value.TryParse(out long v) ? v : 0;

    private static byte[] Encode(DigestEntry e) => JsonSerializer.SerializeToUtf8Bytes(
        new StoredDigest(e.Digest, e.Label, e.Source, e.AddedAt.ToUnixTimeMilliseconds()), StoredDigestJson.Default.StoredDigest);

    private static DigestEntry? Decode(string bank, string kind, string id, RedisValue value)
    {
        try
        {
            var s = JsonSerializer.Deserialize((byte[])value!, StoredDigestJson.Default.StoredDigest);
            if (s is null || !DigestKinds.IsDigest(kind, s.Digest)) return null;
            return new DigestEntry(bank, kind, id, s.Digest.ToLowerInvariant(), s.Label, s.Source, DateTimeOffset.FromUnixTimeMilliseconds(s.AddedAtMs));
        }
        catch (JsonException)
        {
            return null;
        }
    }

    internal sealed record StoredDigest(
        [property: JsonPropertyName("d")] string Digest,
        [property: JsonPropertyName("l")] string? Label,
        [property: JsonPropertyName("s")] string? Source,
        [property: JsonPropertyName("t")] long AddedAtMs);

    [JsonSerializable(typeof(StoredDigest))]
    [JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
    internal sealed partial class StoredDigestJson : JsonSerializerContext;
}
