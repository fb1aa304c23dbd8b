using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using Moderation.Streams.Hashing;
using Moderation.Streams.Hashing.Banks;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.Banks;

/// <summary>
/// Hash banks in Redis (or a Redis Cluster, or Garnet).
/// </summary>
/// <remarks>
/// <para>Layout under <c>KeyPrefix</c> (default <c>moderation:</c>):</para>
/// <list type="bullet">
/// <item><c>banks</c>: a set of bank names (the registry).</item>
/// <item><c>bank:{NAME}:entries</c>: a hash, field = entry id, value = the entry as compact JSON.</item>
/// <item><c>bank:{NAME}:version</c>: an integer incremented by every change, in the same transaction as the change.</item>
/// <item><c>bank:{NAME}:changed_at</c>: when the last change was written (Unix milliseconds, the writer's clock), in the
/// same transaction: a worker applying the change measures how long it took to become matchable.</item>
/// <item><c>bank:{NAME}:delta:{VERSION}</c>: what the change to that version touched (<c>ids</c> and one id per line,
/// or <c>clear</c> for a change that emptied the bank), written in the change's transaction and kept for
/// <see cref="DeltaRetention"/>: a reader a few versions behind reads these and then only the entries they name.</item>
/// <item><c>banks:epoch</c>: a random id written once (SET NX) by the first writer of an empty store.</item>
/// <item>channel <c>banks:changed</c>: <c>NAME VERSION</c> published after every change.</item>
/// </list>
/// <para>The <c>{NAME}</c> hash tag puts a bank's entries and version in one cluster slot, so one MULTI/EXEC
/// changes both; different banks spread over the slots. Readers compare versions to skip unchanged banks; the
/// channel only tells them to look now rather than at their next periodic check (PUBLISH reaches every node
/// of a cluster, and a missed message costs at most one check interval).</para>
/// <para>Imports are written in transactions of <see cref="BatchSize"/> entries, each bumping the version: a
/// reader during a large import sees a prefix of it, then the rest. A change names its new version before it is
/// written (its delta record's key), so each transaction is conditional on the version it read (WATCH): two writers
/// of one bank at once retry rather than interleave.</para>
/// </remarks>
public sealed partial class RedisBankStore
{
    public const int BatchSize = 2000;
    private const int ScanPageSize = 2000;
    private const int MaxChangeAttempts = 20;
    private const string ClearDelta = "clear";
    private const string IdsDelta = "ids";

    /// <summary>Versions a reader may catch up on through delta records; further behind, it reads the bank whole.</summary>
    public const int MaxDeltaSpan = 512;

    private readonly IConnectionMultiplexer _redis;
    private readonly string _prefix;
    private readonly TimeProvider _time;

    /// <param name="time">The clock a change's <c>changed_at</c> is written by.</param>
    public RedisBankStore(IConnectionMultiplexer redis, string keyPrefix = "moderation:", TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        StoreKeys.CheckPrefix(keyPrefix);
        _redis = redis;
        _prefix = keyPrefix;
        _time = time ?? TimeProvider.System;
        ChangesChannel = RedisChannel.Literal(keyPrefix + "banks:changed");
    }

    /// <summary>The pub/sub channel announcing changes (<c>NAME VERSION</c>).</summary>
    public RedisChannel ChangesChannel { get; }

    public IConnectionMultiplexer Connection => _redis;

    /// <summary>The registry set's key.</summary>
    public string RegistryKey => _prefix + "banks";

    public string EpochKey => StoreKeys.EpochKey(_prefix);

    /// <summary>The key of a bank's entries (a Redis hash: id → entry).</summary>
    public string EntriesKey(string bank) => $"{_prefix}bank:{{{bank}}}:entries";

    /// <summary>The key of a bank's version counter (same cluster slot as its entries).</summary>
    public string VersionKey(string bank) => $"{_prefix}bank:{{{bank}}}:version";

    /// <summary>The key of when a bank last changed (Unix ms; same cluster slot as its entries).</summary>
    public string ChangedAtKey(string bank) => $"{_prefix}bank:{{{bank}}}:changed_at";

    /// <summary>The key of the delta record of the change that made <paramref name="version"/> (same cluster slot).</summary>
    public string DeltaKey(string bank, long version) => string.Create(CultureInfo.InvariantCulture, $"{_prefix}bank:{{{bank}}}:delta:{version}");

    /// <summary>How long a change's delta record stays readable (a reader further behind in time reads the bank whole).</summary>
    public TimeSpan DeltaRetention { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>Every bank in the registry, by name.</summary>
    public async Task<IReadOnlyList<BankInfo>> ListAsync()
    {
        var db = _redis.GetDatabase();
        var names = (await db.SetMembersAsync(RegistryKey).ConfigureAwait(false))
            .Select(n => (string)n!).Where(BankNames.IsValid).Order(StringComparer.Ordinal).ToList();
        var infos = new List<BankInfo>(names.Count);
        foreach (var name in names)
        {
            var count = db.HashLengthAsync(EntriesKey(name));
            var version = db.StringGetAsync(VersionKey(name));
            infos.Add(new BankInfo(name, await count.ConfigureAwait(false), ParseVersion(await version.ConfigureAwait(false))));
        }
        return infos;
    }

    /// <summary>Whether the bank is in the registry (imported and not deleted since).</summary>
    public async Task<bool> ExistsAsync(string bank) =>
        await _redis.GetDatabase().SetContainsAsync(RegistryKey, BankNames.Validate(bank)).ConfigureAwait(false);

    /// <summary>The bank's version (0 when it does not exist).</summary>
    public async Task<long> GetVersionAsync(string bank) =>
        ParseVersion(await _redis.GetDatabase().StringGetAsync(VersionKey(BankNames.Validate(bank))).ConfigureAwait(false));

    /// <summary>The epoch and the versions of every registered bank, in two round trips.</summary>
    public async Task<BankStoreState> GetStateAsync()
    {
        var db = _redis.GetDatabase();
        var epoch = db.StringGetAsync(EpochKey);
        var names = (await db.SetMembersAsync(RegistryKey).ConfigureAwait(false)).Select(n => (string)n!).Where(BankNames.IsValid).ToList();
        var gets = names.Select(n => db.StringGetAsync(VersionKey(n))).ToList();
        var versions = new Dictionary<string, long>(names.Count, StringComparer.Ordinal);
        for (int i = 0; i < names.Count; i++) versions[names[i]] = ParseVersion(await gets[i].ConfigureAwait(false));
        return new BankStoreState(await epoch.ConfigureAwait(false), versions);
    }

    /// <summary>Adds or replaces entries (by id) in their banks; with <paramref name="replace"/> the named bank is
    /// emptied first. Returns the bank's version after the import.</summary>
    public async Task<long> ImportAsync(string bank, IReadOnlyList<BankEntry> entries, bool replace = false)
    {
        BankNames.Validate(bank);
        ArgumentNullException.ThrowIfNull(entries);
        // Checked before anything is written: ids and labels reach decisions and exports (BankText).
        foreach (var e in entries)
            if (BankText.Refusal(e) is { } refused) throw new ArgumentException($"entry {BankText.Shown(e.Id)}: {refused}", nameof(entries));
        var db = _redis.GetDatabase();
        await EnsureEpochAsync(db).ConfigureAwait(false);
        await db.SetAddAsync(RegistryKey, bank).ConfigureAwait(false);
        long version = 0;
        if (replace)
            (version, _) = await ChangeAsync(db, bank, tx => tx.KeyDeleteAsync(EntriesKey(bank)), null).ConfigureAwait(false);
        for (int start = 0; start < entries.Count; start += BatchSize)
        {
            int count = Math.Min(BatchSize, entries.Count - start);
            var fields = new HashEntry[count];
            for (int i = 0; i < count; i++)
            {
                var e = entries[start + i];
                if (e.Bank != bank) throw new ArgumentException($"entry {BankText.Shown(e.Id)} belongs to bank {e.Bank}, not {bank}", nameof(entries));
                fields[i] = new HashEntry(e.Id, Encode(e));
            }
            (version, _) = await ChangeAsync(db, bank, async tx => { await tx.HashSetAsync(EntriesKey(bank), fields).ConfigureAwait(false); return true; },
                fields.Select(f => f.Name).ToArray()).ConfigureAwait(false);
        }
        if (version == 0) version = await GetVersionAsync(bank).ConfigureAwait(false);
        await AnnounceAsync(bank, version).ConfigureAwait(false);
        return version;
    }

    /// <summary>Removes entries by id; returns how many existed.</summary>
    public async Task<long> RemoveAsync(string bank, IReadOnlyCollection<string> ids)
    {
        BankNames.Validate(bank);
        ArgumentNullException.ThrowIfNull(ids);
        if (ids.Count == 0) return 0;
        var db = _redis.GetDatabase();
        await EnsureEpochAsync(db).ConfigureAwait(false);
        var fields = ids.Select(i => (RedisValue)i).ToArray();
        var (version, removed) = await ChangeAsync(db, bank, tx => tx.HashDeleteAsync(EntriesKey(bank), fields), fields).ConfigureAwait(false);
        await AnnounceAsync(bank, version).ConfigureAwait(false);
        return removed;
    }

    /// <summary>Deletes a whole bank. Its version keeps counting up, so readers see the change.</summary>
    public async Task<bool> DeleteBankAsync(string bank)
    {
        BankNames.Validate(bank);
        var db = _redis.GetDatabase();
        await EnsureEpochAsync(db).ConfigureAwait(false);
        var (version, existed) = await ChangeAsync(db, bank, tx => tx.KeyDeleteAsync(EntriesKey(bank)), null).ConfigureAwait(false);
        bool wasRegistered = await db.SetRemoveAsync(RegistryKey, bank).ConfigureAwait(false);
        await AnnounceAsync(bank, version).ConfigureAwait(false);
        return existed || wasRegistered;
    }

    /// <summary>All entries of a bank with the version read before the scan (a change during the scan bumps
    /// the version past it, so a reader comparing versions looks again). Entries that cannot be decoded are skipped.</summary>
    public async Task<(long Version, List<BankEntry> Entries)> LoadAsync(string bank, CancellationToken ct = default)
    {
        var copy = await ReadAsync(bank, ct).ConfigureAwait(false);
        return (copy.Version, copy.Entries);
    }

    /// <summary>All entries of a bank with the version and the time of its last change, both read before the scan
    /// (see <see cref="LoadAsync"/>).</summary>
    public async Task<BankCopy> ReadAsync(string bank, CancellationToken ct = default)
    {
        var entries = new List<BankEntry>();
        int undecodable = 0;
        var (version, at) = await ReadAsync(bank, entries.Add, ct, _ => undecodable++).ConfigureAwait(false);
        return new BankCopy(version, at, entries) { Undecodable = undecodable };
    }

    /// <summary>Streams every entry of a bank to <paramref name="each"/> (nothing held here: a 10M-entry bank is never a
    /// list); returns the version and the time of the last change, both read before the scan (see <see cref="LoadAsync"/>).
    /// A scan may hand an entry over twice (Redis's SCAN guarantee); entries that cannot be decoded are skipped. A page
    /// that times out is asked for again from the same cursor (up to <see cref="PageAttempts"/> times), so a long read
    /// on a busy server does not start over.</summary>
    /// <param name="undecodable">Told the id of each field that could not be decoded (and was skipped).</param>
    public async Task<(long Version, DateTimeOffset? ChangedAt)> ReadAsync(string bank, Action<BankEntry> each, CancellationToken ct = default,
        Action<string>? undecodable = null)
    {
        BankNames.Validate(bank);
        ArgumentNullException.ThrowIfNull(each);
        var db = _redis.GetDatabase();
        var version = db.StringGetAsync(VersionKey(bank));
        var changedAt = db.StringGetAsync(ChangedAtKey(bank));
        long v = ParseVersion(await version.ConfigureAwait(false));
        var at = ParseChangedAt(await changedAt.ConfigureAwait(false));
        await foreach (var page in PagesAsync(db, bank, ct).ConfigureAwait(false))
        {
            foreach (var entry in page.Entries) each(entry);
            if (undecodable is not null) foreach (var id in page.Undecodable ?? []) undecodable(id);
        }
        return (v, at);
    }

    // The bank's entries, a scan page at a time: pages are fetched one after another (a SCAN cursor comes with the page
    // before it) while the ones received are decoded on other cores; handed over in page order.
    private async IAsyncEnumerable<ScanPage> PagesAsync(IDatabase db, string bank, [EnumeratorCancellation] CancellationToken ct)
    {
        RedisKey key = EntriesKey(bank);
        var decoding = new Queue<Task<ScanPage>>();
        int inFlight = Math.Max(2, Environment.ProcessorCount);
        var next = PageAsync(db, key, "0", ct);
        while (next is not null)
        {
            ct.ThrowIfCancellationRequested();
            var page = (RedisResult[])(await next.ConfigureAwait(false))!;
            string cursor = (string)page[0]!;
            next = cursor == "0" ? null : PageAsync(db, key, cursor, ct);
            var items = (RedisResult[])page[1]!;
            decoding.Enqueue(Task.Run(() => DecodePage(bank, items), ct));
            while (decoding.Count >= inFlight || (next is null && decoding.Count > 0))
                yield return await decoding.Dequeue().ConfigureAwait(false);
        }
    }

    // One page of a scan: the entries decoded and the ids of those that could not be.
    private sealed record ScanPage(List<BankEntry> Entries, List<string>? Undecodable);

    private static ScanPage DecodePage(string bank, RedisResult[] items)
    {
        var entries = new List<BankEntry>(items.Length / 2);
        List<string>? undecodable = null;
        for (int i = 0; i + 1 < items.Length; i += 2)
        {
            if (Decode(bank, (string)items[i]!, (RedisValue)items[i + 1]) is { } entry) entries.Add(entry);
            else (undecodable ??= []).Add((string)items[i]!);
        }
        return new ScanPage(entries, undecodable);
    }

    /// <summary>Times a page of a whole read is asked for before the read fails.</summary>
    public const int PageAttempts = 4;

    private static Task<RedisResult> PageAsync(IDatabase db, RedisKey key, string cursor, CancellationToken ct) =>
        AgainOnTimeoutAsync(() => db.ExecuteAsync("HSCAN", key, cursor, "COUNT", ScanPageSize), ct);

    // One piece of a whole read (a scan page, a snapshot block) asked for again when it times out, up to PageAttempts
    // times with a growing pause: a long read on a busy server does not start over for one slow reply.
    private static async Task<T> AgainOnTimeoutAsync<T>(Func<Task<T>> read, CancellationToken ct)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await read().ConfigureAwait(false);
            }
            catch (RedisTimeoutException) when (attempt < PageAttempts)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100 << attempt), ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The bank's version and its number of fields (HLEN), read together.</summary>
    public async Task<(long Version, long Count)> GetVersionAndCountAsync(string bank)
    {
        BankNames.Validate(bank);
        var tx = _redis.GetDatabase().CreateTransaction();
        var version = tx.StringGetAsync(VersionKey(bank));
        var count = tx.HashLengthAsync(EntriesKey(bank));
        await tx.ExecuteAsync().ConfigureAwait(false);
        return (ParseVersion(await version.ConfigureAwait(false)), await count.ConfigureAwait(false));
    }

    /// <summary>Entries in a bank (HLEN).</summary>
    public async Task<long> CountAsync(string bank) => await _redis.GetDatabase().HashLengthAsync(EntriesKey(BankNames.Validate(bank))).ConfigureAwait(false);

    /// <summary>The changes after <paramref name="from"/> up to <paramref name="to"/>: every entry id they touched (added,
    /// replaced or removed) and when the last was written; null when the reader must read the bank whole instead: a
    /// record expired (or was never written: a store written by an older version), one emptied the bank, or the span
    /// is over <see cref="MaxDeltaSpan"/>.</summary>
    public async Task<BankChanges?> ReadChangesAsync(string bank, long from, long to)
    {
        BankNames.Validate(bank);
        if (to <= from) return new BankChanges(new HashSet<string>(StringComparer.Ordinal), null);
        if (to - from > MaxDeltaSpan || from < 0) return null;
        var keys = new RedisKey[to - from + 1];
        for (long v = from + 1; v <= to; v++) keys[v - from - 1] = DeltaKey(bank, v);
        keys[^1] = ChangedAtKey(bank);
        // One slot ({NAME}): one MGET.
        var values = await _redis.GetDatabase().StringGetAsync(keys).ConfigureAwait(false);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < values.Length - 1; i++)
        {
            if (values[i].IsNull) return null;
            string record = values[i]!;
            var lines = record.Split('\n');
            if (lines[0] != IdsDelta) return null;
            for (int l = 1; l < lines.Length; l++) ids.Add(lines[l]);
        }
        return new BankChanges(ids, ParseChangedAt(values[^1]));
    }

    /// <summary>The entries held under <paramref name="ids"/> now (null for an id not in the bank, or not decodable).</summary>
    public async Task<Dictionary<string, BankEntry?>> ReadEntriesAsync(string bank, IReadOnlyCollection<string> ids)
    {
        BankNames.Validate(bank);
        ArgumentNullException.ThrowIfNull(ids);
        var all = ids.ToArray();
        var values = await FieldsAsync(_redis.GetDatabase(), bank, all).ConfigureAwait(false);
        var found = new Dictionary<string, BankEntry?>(all.Length, StringComparer.Ordinal);
        for (int i = 0; i < all.Length; i++)
            found[all[i]] = values[i].IsNull ? null : Decode(bank, all[i], values[i]);
        return found;
    }

    // The raw values of these fields of the bank's hash, in their order (null where absent): HMGETs of BatchSize, pipelined.
    private async Task<RedisValue[]> FieldsAsync(IDatabase db, string bank, string[] ids)
    {
        var reads = new List<Task<RedisValue[]>>();
        for (int start = 0; start < ids.Length; start += BatchSize)
            reads.Add(db.HashGetAsync(EntriesKey(bank), Array.ConvertAll(ids[start..Math.Min(ids.Length, start + BatchSize)], i => (RedisValue)i)));
        var values = new RedisValue[ids.Length];
        int at = 0;
        foreach (var read in reads)
        {
            var batch = await read.ConfigureAwait(false);
            batch.CopyTo(values, at);
            at += batch.Length;
        }
        return values;
    }

    /// <summary>Writes one change: <paramref name="change"/>, the version bumped to the next, when, and the change's
    /// delta record (<paramref name="ids"/> it touched; null: it emptied the bank), in one transaction on condition that
    /// the version and the bank's snapshot manifest are still the ones read (retried otherwise). With a snapshot, the
    /// ids join its changed set in the same transaction (an emptied bank drops the snapshot).</summary>
    private async Task<(long Version, T Result)> ChangeAsync<T>(IDatabase db, string bank, Func<ITransaction, Task<T>> change, RedisValue[]? ids)
    {
        string delta = ids is null ? ClearDelta : IdsDelta + "\n" + string.Join('\n', ids);
        for (int attempt = 1; ; attempt++)
        {
            var read = db.StringGetAsync([VersionKey(bank), SnapshotKey(bank)]);
            var changedCount = db.SetLengthAsync(SnapshotChangedKey(bank));
            var values = await read.ConfigureAwait(false);
            var (current, manifest) = (values[0], values[1]);
            long changedSoFar = await changedCount.ConfigureAwait(false);
            long next = ParseVersion(current) + 1;
            var tx = db.CreateTransaction();
            tx.AddCondition(current.IsNull ? Condition.KeyNotExists(VersionKey(bank)) : Condition.StringEqual(VersionKey(bank), current));
            tx.AddCondition(manifest.IsNull ? Condition.KeyNotExists(SnapshotKey(bank)) : Condition.StringEqual(SnapshotKey(bank), manifest));
            var result = change(tx);
            _ = tx.StringSetAsync(VersionKey(bank), next);
            _ = tx.StringSetAsync(ChangedAtKey(bank), _time.GetUtcNow().ToUnixTimeMilliseconds());
            _ = tx.StringSetAsync(DeltaKey(bank, next), delta, DeltaRetention);
            if (!manifest.IsNull)
            {
                // A snapshot most of whose entries changed since is worth less than its changed set costs (a bank imported
                // again whole would grow the set to the bank's size): dropped, the next full re-read writes a new one.
                var info = BankSnapshotInfo.Parse(manifest);
                if (ids is null || info is null || changedSoFar + ids.Length > Math.Max(MaxSnapshotChanged, info.Entries / 2)) DropSnapshot(tx, bank, info);
                else if (ids.Length > 0) _ = tx.SetAddAsync(SnapshotChangedKey(bank), ids);
            }
            if (await tx.ExecuteAsync().ConfigureAwait(false)) return (next, await result.ConfigureAwait(false));
            if (attempt == MaxChangeAttempts)
                throw new RedisException($"bank {bank}: version changed under {MaxChangeAttempts} attempts in a row (another writer?); nothing written by the last");
        }
    }

    private Task EnsureEpochAsync(IDatabase db) => StoreKeys.EnsureEpochAsync(db, _prefix);

    private Task AnnounceAsync(string bank, long version) =>
        _redis.GetSubscriber().PublishAsync(ChangesChannel, string.Create(CultureInfo.InvariantCulture, $"{bank} {version}"));

    private static long ParseVersion(RedisValue value) => value.TryParse(out long v) ? v : 0;

    private static DateTimeOffset? ParseChangedAt(RedisValue value) =>
        !value.IsNull && value.TryParse(out long ms) ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

    /// <summary>An entry as stored (compact JSON; the id is the hash field, the bank the key).</summary>
    public static byte[] Encode(BankEntry e) => JsonSerializer.SerializeToUtf8Bytes(
        new StoredEntry(e.Hash.ToString(), e.Quality, e.Label, e.Source, e.AddedAt.ToUnixTimeMilliseconds()), StoredEntryJson.Default.StoredEntry);

    internal static BankEntry? Decode(string bank, string id, RedisValue value)
    {
        try
        {
            var s = JsonSerializer.Deserialize(((ReadOnlyMemory<byte>)value).Span, StoredEntryJson.Default.StoredEntry);
            if (s is null || !PdqHash.TryParse(s.Hash, out var hash)) return null;
            return new BankEntry(bank, id, hash, s.Quality, s.Label, s.Source, DateTimeOffset.FromUnixTimeMilliseconds(s.AddedAtMs));
        }
        catch (JsonException)
        {
            return null;
        }
    }

    internal sealed record StoredEntry(
        [property: JsonPropertyName("h")] string Hash,
        [property: JsonPropertyName("q")] int Quality,
        [property: JsonPropertyName("l")] string? Label,
        [property: JsonPropertyName("s")] string? Source,
        [property: JsonPropertyName("t")] long AddedAtMs);

    [JsonSerializable(typeof(StoredEntry))]
    [JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
    internal sealed partial class StoredEntryJson : JsonSerializerContext;
}
