using StackExchange.Redis;

namespace Moderation.Streams.Redis.Banks;

/// <summary>
/// The delta records of the exact file-hash banks, in the form the hash banks' (<see cref="RedisBankStore"/>) have: per
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
