using StackExchange.Redis;

namespace Moderation.Streams.Redis.Banks;

/// <summary>
/// The delta records of the exact file-hash banks and the text banks, in the form the hash banks' (<see cref="RedisBankStore"/>) have: per
/// change a key named after the version it made, holding <c>ids</c> and one id per line (ids hold no control
/// characters: <see cref="Hashing.Banks.BankText"/>) or <c>clear</c> for a change that emptied or dropped the bank, kept
/// for a while; beside them the bank's <c>changed_at</c> (Unix ms, the writer's clock). Every key of one bank carries the
/// bank's hash tag, so a change writes them in its own transaction and a reader reads them with one MGET.
/// </summary>
internal static class BankDeltaRecords
{
    private const string Clear = "clear";
    private const string Ids = "ids";

    /// <summary>The record of a change that touched <paramref name="ids"/> (null: it emptied or dropped the bank).</summary>
    public static string Of(IEnumerable<string>? ids) => ids is null ? Clear : Ids + "\n" + string.Join('\n', ids);

    /// <summary>Writes a change's version, its time and its record into <paramref name="tx"/> (the version's transaction,
    /// conditional on the version before it).</summary>
    public static void Write(ITransaction tx, RedisKey versionKey, RedisKey changedAtKey, RedisKey deltaKey, long version, string record,
        DateTimeOffset now, TimeSpan retention)
    {
        _ = tx.StringSetAsync(versionKey, version);
        _ = tx.StringSetAsync(changedAtKey, now.ToUnixTimeMilliseconds());
        _ = tx.StringSetAsync(deltaKey, record, retention);
    }

    /// <summary>Starts a change: a transaction that writes the next version, its time and its record, on condition that the
    /// version is still the one read now (the caller queues the change itself on it, then executes it).</summary>
    public static async Task<(ITransaction Tx, long Version)> BeginAsync(IDatabase db, RedisKey versionKey, RedisKey changedAtKey,
        Func<long, RedisKey> deltaKey, string record, DateTimeOffset now, TimeSpan retention)
    {
        var current = await db.StringGetAsync(versionKey).ConfigureAwait(false);
        long next = (current.TryParse(out long version) ? version : 0) + 1;
        var tx = db.CreateTransaction();
        tx.AddCondition(current.IsNull ? Condition.KeyNotExists(versionKey) : Condition.StringEqual(versionKey, current));
        Write(tx, versionKey, changedAtKey, deltaKey(next), next, record, now, retention);
        return (tx, next);
    }

    /// <summary>One change: <paramref name="change"/> queued on the transaction <paramref name="begin"/> starts, executed,
    /// and started again while another writer moves the version first, at most <paramref name="attempts"/> times.</summary>
    /// <exception cref="RedisException">Every attempt lost to another writer (<paramref name="what"/> names the bank); nothing
    /// of the last was written.</exception>
    public static async Task<(long Version, T Result)> ChangeAsync<T>(Func<Task<(ITransaction Tx, long Version)>> begin,
        Func<ITransaction, Task<T>> change, string what, int attempts)
    {
        for (int attempt = 1; ; attempt++)
        {
            var (tx, version) = await begin().ConfigureAwait(false);
            var result = change(tx);
            if (await tx.ExecuteAsync().ConfigureAwait(false)) return (version, await result.ConfigureAwait(false));
            if (attempt == attempts)
                throw Contended(what, attempts);
        }
    }

    /// <summary>An import: <paramref name="write"/> queued on a change (<paramref name="begin"/>) that also registers the
    /// bank under <paramref name="kind"/> in <paramref name="registryKey"/>, on condition that the registry still says what
    /// it said (nothing, or that kind), and empties the bank first when <paramref name="replace"/>; started again while
    /// another writer moves the version first, at most <paramref name="attempts"/> times.</summary>
    /// <returns>The bank's new version.</returns>
    /// <exception cref="ArgumentException">The bank is registered with another kind (<paramref name="otherKind"/> words it).</exception>
    /// <exception cref="InvalidOperationException">The bank changed kind during the import.</exception>
    /// <exception cref="RedisException">Every attempt lost to another writer; nothing of the last was written.</exception>
    public static async Task<long> ImportAsync(IDatabase db, RedisKey registryKey, RedisKey entriesKey, string bank, string kind, bool replace,
        Func<Task<(ITransaction Tx, long Version)>> begin, Action<ITransaction> write, Func<string, ArgumentException> otherKind, string what, int attempts)
    {
        for (int attempt = 1; ; attempt++)
        {
            var existing = (string?)await db.HashGetAsync(registryKey, bank).ConfigureAwait(false);
            if (existing is not null && existing != kind) throw otherKind(existing);
            var (tx, version) = await begin().ConfigureAwait(false);
            tx.AddCondition(existing is null ? Condition.HashNotExists(registryKey, bank) : Condition.HashEqual(registryKey, bank, kind));
            _ = tx.HashSetAsync(registryKey, bank, kind);
            if (replace) _ = tx.KeyDeleteAsync(entriesKey);
            write(tx);
            if (await tx.ExecuteAsync().ConfigureAwait(false)) return version;
            if ((string?)await db.HashGetAsync(registryKey, bank).ConfigureAwait(false) is { } now && now != kind)
                throw new InvalidOperationException($"bank '{bank}' changed kind during the import: try again");
            if (attempt == attempts)
                throw Contended(what, attempts);
        }
    }

    private static RedisException Contended(string what, int attempts) =>
        new($"{what}: changed under {attempts} attempts in a row (another writer?); nothing written by the last");

    /// <summary>The values of <paramref name="fields"/> of a hash, in their order (null for a field it lacks), read
    /// <paramref name="batch"/> fields to an HMGET, the HMGETs pipelined.</summary>
    public static async Task<RedisValue[]> ReadFieldsAsync(IDatabase db, RedisKey hash, string[] fields, int batch)
    {
        var reads = new List<Task<RedisValue[]>>();
        for (int start = 0; start < fields.Length; start += batch)
            reads.Add(db.HashGetAsync(hash, Array.ConvertAll(fields[start..Math.Min(fields.Length, start + batch)], f => (RedisValue)f)));
        var values = new RedisValue[fields.Length];
        int at = 0;
        foreach (var read in reads)
            foreach (var value in await read.ConfigureAwait(false))
                values[at++] = value;
        return values;
    }

    /// <summary>The changes after <paramref name="from"/> up to <paramref name="to"/> (every id they touched and when the
    /// last was written), or null when the reader must read the bank whole: a record expired or was never written (a
    /// writer older than the records), one emptied the bank, the span is over <see cref="RedisBankStore.MaxDeltaSpan"/>,
    /// or the records name more than <paramref name="maxIds"/> ids (read a few at a time, so a reader far behind a large
    /// import stops early rather than holding every record at once).</summary>
    public static async Task<BankChanges?> ReadAsync(IDatabase db, Func<long, RedisKey> deltaKey, RedisKey changedAtKey, long from, long to, int maxIds = int.MaxValue)
    {
        if (to <= from) return new BankChanges(new HashSet<string>(StringComparer.Ordinal), null);
        if (to - from > RedisBankStore.MaxDeltaSpan || from < 0) return null;
        var changedAt = db.StringGetAsync(changedAtKey);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (long start = from + 1; start <= to; start += RecordsPerRead)
        {
            var keys = new RedisKey[Math.Min(RecordsPerRead, to - start + 1)];
            for (int i = 0; i < keys.Length; i++) keys[i] = deltaKey(start + i);
            // One slot (the bank's hash tag): one MGET.
            foreach (var value in await db.StringGetAsync(keys).ConfigureAwait(false))
            {
                if (value.IsNull) return null;
                var lines = ((string)value!).Split('\n');
                if (lines[0] != Ids) return null;
                for (int l = 1; l < lines.Length; l++) ids.Add(lines[l]);
            }
            if (ids.Count > maxIds) return null;
        }
        return new BankChanges(ids, ParseChangedAt(await changedAt.ConfigureAwait(false)));
    }

    private const int RecordsPerRead = 16;

    public static DateTimeOffset? ParseChangedAt(RedisValue value) =>
        !value.IsNull && value.TryParse(out long ms) ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
}
