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
/// source, added_at), a version <c>digestbank:{NAME}:version</c>, the time of the last change
/// <c>digestbank:{NAME}:changed_at</c> (Unix ms, the writer's clock) and per change a delta record
/// <c>digestbank:{NAME}:delta:VERSION</c> (the ids it touched, or <c>clear</c>; kept for <see cref="DeltaRetention"/>), all
/// written in the change's transaction (one cluster slot per bank), and the channel <c>digestbanks:changed</c>. A change
/// names its version before it is written (its record's key), so its transaction is conditional on the version it read:
/// two writers of one bank at once retry rather than interleave. A bank holds one kind.
/// </summary>
public sealed partial class RedisDigestBankStore
{
    private const int MaxChangeAttempts = 20;
    // HMGET batch of a delta's entries.
    private const int ReadBatch = 2000;

    private readonly IConnectionMultiplexer _redis;
    private readonly string _prefix;
    private readonly TimeProvider _time;

    /// <param name="time">The clock a change's <c>changed_at</c> is written by.</param>
    public RedisDigestBankStore(IConnectionMultiplexer redis, string keyPrefix = "moderation:", TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        StoreKeys.CheckPrefix(keyPrefix);
        _redis = redis;
        _prefix = keyPrefix;
        _time = time ?? TimeProvider.System;
        ChangesChannel = RedisChannel.Literal(keyPrefix + "digestbanks:changed");
    }

    public RedisChannel ChangesChannel { get; }
    public IConnectionMultiplexer Connection => _redis;
    public string RegistryKey => _prefix + "digestbanks";
    public string EntriesKey(string bank) => $"{_prefix}digestbank:{{{bank}}}:entries";
    public string VersionKey(string bank) => $"{_prefix}digestbank:{{{bank}}}:version";

    /// <summary>The key of when a bank last changed (Unix ms; same cluster slot as its entries).</summary>
    public string ChangedAtKey(string bank) => $"{_prefix}digestbank:{{{bank}}}:changed_at";

    /// <summary>The key of the delta record of the change that made <paramref name="version"/> (same cluster slot).</summary>
    public string DeltaKey(string bank, long version) => string.Create(CultureInfo.InvariantCulture, $"{_prefix}digestbank:{{{bank}}}:delta:{version}");

    /// <summary>How long a change's delta record stays readable (a reader further behind in time reads the bank whole).</summary>
    public TimeSpan DeltaRetention { get; init; } = TimeSpan.FromMinutes(15);

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
        await StoreKeys.EnsureEpochAsync(db, _prefix).ConfigureAwait(false);
        var fields = entries.Select(e => new HashEntry(e.Id, Encode(e))).ToArray();
        // Replaced whole: readers read the bank whole (a record naming every id it held would be as long as the bank).
        string record = BankDeltaRecords.Of(replace ? null : fields.Select(f => (string)f.Name!));
        long version = await BankDeltaRecords.ImportAsync(db, RegistryKey, EntriesKey(bank), bank, kind, replace, () => BeginChangeAsync(db, bank, record),
            tx => { if (fields.Length > 0) _ = tx.HashSetAsync(EntriesKey(bank), fields); },
            existing => new ArgumentException($"bank '{bank}' holds {existing} digests, not {kind}: remove it first or pick another name", nameof(kind)),
            $"digest bank {bank}", MaxChangeAttempts).ConfigureAwait(false);
        await AnnounceAsync(bank, version).ConfigureAwait(false);
        return version;
    }

    /// <summary>Removes entries by id; returns how many existed.</summary>
    public async Task<long> RemoveAsync(string bank, IReadOnlyCollection<string> ids)
    {
        BankNames.Validate(bank);
        ArgumentNullException.ThrowIfNull(ids);
        var db = _redis.GetDatabase();
        await StoreKeys.EnsureEpochAsync(db, _prefix).ConfigureAwait(false);
        var fields = ids.Select(i => (RedisValue)i).ToArray();
        var (version, removed) = await ChangeAsync(db, bank, BankDeltaRecords.Of(ids), tx => tx.HashDeleteAsync(EntriesKey(bank), fields)).ConfigureAwait(false);
        await AnnounceAsync(bank, version).ConfigureAwait(false);
        return removed;
    }

    /// <summary>Deletes a whole bank (its version keeps counting, so readers see the change); false when there was none.</summary>
    public async Task<bool> DeleteAsync(string bank)
    {
        BankNames.Validate(bank);
        var db = _redis.GetDatabase();
        await StoreKeys.EnsureEpochAsync(db, _prefix).ConfigureAwait(false);
        var (version, registered) = await ChangeAsync(db, bank, BankDeltaRecords.Of(null), tx =>
        {
            _ = tx.KeyDeleteAsync(EntriesKey(bank));
            return tx.HashDeleteAsync(RegistryKey, bank);
        }).ConfigureAwait(false);
        await AnnounceAsync(bank, version).ConfigureAwait(false);
        return registered;
    }

    /// <summary>The changes after version <paramref name="from"/> up to <paramref name="to"/>: every id they touched and
    /// when the last was written; null when the reader must read the bank whole instead (a record expired or was never
    /// written, one emptied the bank, the span is over <see cref="RedisBankStore.MaxDeltaSpan"/>, or the changes name
    /// more than <paramref name="maxIds"/> ids).</summary>
    public Task<BankChanges?> ReadChangesAsync(string bank, long from, long to, int maxIds = int.MaxValue)
    {
        BankNames.Validate(bank);
        return BankDeltaRecords.ReadAsync(_redis.GetDatabase(), v => DeltaKey(bank, v), ChangedAtKey(bank), from, to, maxIds);
    }

    /// <summary>When the bank's last change was written (null: never recorded, by a writer older than the records).</summary>
    public async Task<DateTimeOffset?> GetChangedAtAsync(string bank) =>
        BankDeltaRecords.ParseChangedAt(await _redis.GetDatabase().StringGetAsync(ChangedAtKey(BankNames.Validate(bank))).ConfigureAwait(false));

    /// <summary>The entries held under <paramref name="ids"/> now (null for an id not in the bank, or not decodable).</summary>
    public async Task<Dictionary<string, DigestEntry?>> ReadEntriesAsync(string bank, string kind, IReadOnlyCollection<string> ids)
    {
        BankNames.Validate(bank);
        ArgumentNullException.ThrowIfNull(ids);
        var db = _redis.GetDatabase();
        var all = ids.ToArray();
        var values = await BankDeltaRecords.ReadFieldsAsync(db, EntriesKey(bank), all, ReadBatch).ConfigureAwait(false);
        var found = new Dictionary<string, DigestEntry?>(all.Length, StringComparer.Ordinal);
        for (int i = 0; i < all.Length; i++) found[all[i]] = values[i].IsNull ? null : Decode(bank, kind, all[i], values[i]);
        return found;
    }

    // One change: `change` with the version bumped, its time and its record, retried while another writer moves the version.
    private Task<(long Version, T Result)> ChangeAsync<T>(IDatabase db, string bank, string record, Func<ITransaction, Task<T>> change) =>
        BankDeltaRecords.ChangeAsync(() => BeginChangeAsync(db, bank, record), change, $"digest bank {bank}", MaxChangeAttempts);

    // A transaction that writes the next version, its time and its record, on condition that the version is still the one read.
    private Task<(ITransaction Tx, long Version)> BeginChangeAsync(IDatabase db, string bank, string record) =>
        BankDeltaRecords.BeginAsync(db, VersionKey(bank), ChangedAtKey(bank), version => DeltaKey(bank, version), record, _time.GetUtcNow(), DeltaRetention);

    /// <summary>A bank's entries (those that cannot be decoded are skipped), ordered by id. A bank of up to
    /// <see cref="WholeReadMax"/> fields is read in one HGETALL (atomic); a larger one by HSCAN pages, each asked for again
    /// when it times out (one reply of a million fields would take seconds and time out on a busy server), and scanned
    /// again (up to <see cref="ScanAttempts"/> times in all) when the fields seen do not add up to the bank's count at an
    /// unchanged version (a scan that skipped fields under concurrent writes) or when the bank changed during the scan.</summary>
    public async Task<List<DigestEntry>> LoadAsync(string bank, string kind)
    {
        BankNames.Validate(bank);
        var db = _redis.GetDatabase();
        var (version, count) = await VersionAndCountAsync(db, bank).ConfigureAwait(false);
        if (count <= WholeReadMax) return Sorted(bank, kind, await db.HashGetAllAsync(EntriesKey(bank)).ConfigureAwait(false));
        for (int attempt = 1; ; attempt++)
        {
            var fields = new Dictionary<string, RedisValue>((int)Math.Min(int.MaxValue / 32, count + 1024), StringComparer.Ordinal);
            RedisKey key = EntriesKey(bank);
            string cursor = "0";
            do
            {
                var page = (RedisResult[])(await AgainOnTimeoutAsync(() => db.ExecuteAsync("HSCAN", key, cursor, "COUNT", ScanPageSize)).ConfigureAwait(false))!;
                cursor = (string)page[0]!;
                var items = (RedisResult[])page[1]!;
                for (int i = 0; i + 1 < items.Length; i += 2) fields[(string)items[i]!] = (RedisValue)items[i + 1];
            }
            while (cursor != "0");
            var after = await VersionAndCountAsync(db, bank).ConfigureAwait(false);
            if ((after.Version == version && fields.Count == after.Count) || attempt == ScanAttempts)
                return Sorted(bank, kind, [.. fields.Select(f => new HashEntry(f.Key, f.Value))]);
            (version, count) = after;
        }
    }

    /// <summary>Fields of a bank read in one HGETALL; a larger bank is scanned.</summary>
    public int WholeReadMax { get; init; } = 50_000;

    /// <summary>Times a large bank is scanned before its entries are taken as the last scan found them.</summary>
    public const int ScanAttempts = 3;

    private const int ScanPageSize = 2000;
    private const int PageAttempts = 4;

    private async Task<(long Version, long Count)> VersionAndCountAsync(IDatabase db, string bank)
    {
        var tx = db.CreateTransaction();
        var version = tx.StringGetAsync(VersionKey(bank));
        var count = tx.HashLengthAsync(EntriesKey(bank));
        await tx.ExecuteAsync().ConfigureAwait(false);
        return (ParseVersion(await version.ConfigureAwait(false)), await count.ConfigureAwait(false));
    }

    // A page asked for again when it times out (a growing pause between), so a long read on a busy server does not fail for one slow reply.
    private static async Task<T> AgainOnTimeoutAsync<T>(Func<Task<T>> read)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await read().ConfigureAwait(false);
            }
            catch (RedisTimeoutException) when (attempt < PageAttempts)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100 << attempt)).ConfigureAwait(false);
            }
        }
    }

    private static List<DigestEntry> Sorted(string bank, string kind, HashEntry[] fields)
    {
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
