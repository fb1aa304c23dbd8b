using System.Text.Json;
using Polly;
using Polly.Timeout;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.Banks;

/// <summary>A quarantined bank entry, as <c>bank quarantined</c> lists it.</summary>
public sealed record QuarantinedEntry(string Bank, string Id, int Uploads, string Window, DateTimeOffset At);

/// <summary>
/// Flood quarantine of bank entries, shared by every worker: each upload a takedown-bank entry matches is counted in a
/// sliding window (a sorted set of content ids, like the uploader counters: a redelivered upload counts once); past the
/// policy's <c>max_uploads</c> the entry joins the quarantine hash, and its matches are reviews until
/// <see cref="ReleaseAsync"/>. One pipelined round trip per upload that matched.
/// </summary>
/// <remarks>Keys: <c>{prefix}bf:{&lt;bank&gt;}:&lt;id&gt;</c> (the window) and <c>{prefix}bq</c> (field
/// <c>&lt;bank&gt;\n&lt;id&gt;</c> → JSON of when and at how many).</remarks>
public sealed class RedisBankFloods
{
    private readonly IConnectionMultiplexer _redis;
    private readonly string _prefix;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline _pipeline;

    public RedisBankFloods(IConnectionMultiplexer redis, string keyPrefix = "moderation:", TimeProvider? time = null, RedisCacheOptions? resilience = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        _redis = redis;
        _prefix = StoreKeys.CheckPrefix(keyPrefix);
        _time = time ?? TimeProvider.System;
        _pipeline = StoreResilience.ForCounters(resilience, _time);
    }

    private string WindowKey(string bank, string id) => $"{_prefix}bf:{{{bank}}}:{id}";
    private string QuarantineKey => _prefix + "bq";
    private static string Field(string bank, string id) => bank + "\n" + id;

    /// <summary>Counts one upload against each entry it matched and returns which of them are quarantined (newly or
    /// before), and which were quarantined by this upload.</summary>
    /// <exception cref="StoreUnavailableException">The store could not be reached or answered too late.</exception>
    public async Task<(IReadOnlySet<(string Bank, string Id)> Quarantined, IReadOnlyList<(string Bank, string Id)> Newly)> CountAsync(
        IReadOnlyList<(string Bank, string Id)> entries, string contentId, string window, TimeSpan span, int maxUploads, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (entries.Count == 0) return (new HashSet<(string, string)>(), []);
        try
        {
            return await _pipeline.ExecuteAsync(static async (state, token) =>
                await state.Self.CountOnceAsync(state.Entries, state.ContentId, state.Window, state.Span, state.Max).WaitAsync(token).ConfigureAwait(false),
                (Self: this, Entries: entries, ContentId: contentId, Window: window, Span: span, Max: maxUploads), ct).ConfigureAwait(false);
        }
        catch (Exception e) when (StoreResilience.IsStoreFailure(e, ct))
        {
            throw new StoreUnavailableException($"Bank flood counters unavailable: {e.Message}", e);
        }
    }

    private async Task<(IReadOnlySet<(string, string)>, IReadOnlyList<(string, string)>)> CountOnceAsync(
        IReadOnlyList<(string Bank, string Id)> entries, string contentId, string window, TimeSpan span, int max)
    {
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var batch = _redis.GetDatabase().CreateBatch();
        var writes = new List<Task>();
        var counts = new List<Task<long>>();
        var known = new List<Task<bool>>();
        foreach (var (bank, id) in entries)
        {
            var key = WindowKey(bank, id);
            writes.Add(batch.SortedSetAddAsync(key, contentId, now, SortedSetWhen.NotExists));
            writes.Add(batch.SortedSetRemoveRangeByScoreAsync(key, double.NegativeInfinity, now - (long)span.TotalMilliseconds));
            writes.Add(batch.SortedSetRemoveRangeByRankAsync(key, 0, -(max + 2)));
            writes.Add(batch.KeyExpireAsync(key, span + TimeSpan.FromSeconds(1)));
            counts.Add(batch.SortedSetLengthAsync(key));
            known.Add(batch.HashExistsAsync(QuarantineKey, Field(bank, id)));
        }
        batch.Execute();
        await Task.WhenAll(writes.Concat(counts).Concat(known)).ConfigureAwait(false);

        var quarantined = new HashSet<(string, string)>();
        var newly = new List<(string, string)>();
        var at = _time.GetUtcNow();
        for (int i = 0; i < entries.Count; i++)
        {
            if (known[i].Result) quarantined.Add(entries[i]);
            else if (counts[i].Result > max)
            {
                var value = JsonSerializer.Serialize(new Stored((int)counts[i].Result, window, at));
                // Only the first worker to cross the line reports it.
                if (await _redis.GetDatabase().HashSetAsync(QuarantineKey, Field(entries[i].Bank, entries[i].Id), value, When.NotExists).ConfigureAwait(false))
                    newly.Add(entries[i]);
                quarantined.Add(entries[i]);
            }
        }
        return (quarantined, newly);
    }

    /// <summary>Which of <paramref name="entries"/> are quarantined, without counting an upload against any of them
    /// (a match a bank's trial share leaves out). One pipelined round trip.</summary>
    /// <exception cref="StoreUnavailableException">The store could not be reached or answered too late.</exception>
    public async Task<IReadOnlySet<(string Bank, string Id)>> QuarantinedAsync(IReadOnlyList<(string Bank, string Id)> entries, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (entries.Count == 0) return new HashSet<(string, string)>();
        try
        {
            return await _pipeline.ExecuteAsync(static async (state, token) =>
            {
                var db = state.Self._redis.GetDatabase();
                var known = state.Entries.Select(e => db.HashExistsAsync(state.Self.QuarantineKey, Field(e.Bank, e.Id))).ToList();
                var found = await Task.WhenAll(known).WaitAsync(token).ConfigureAwait(false);
                return (IReadOnlySet<(string, string)>)state.Entries.Where((_, i) => found[i]).ToHashSet();
            }, (Self: this, Entries: entries), ct).ConfigureAwait(false);
        }
        catch (Exception e) when (StoreResilience.IsStoreFailure(e, ct))
        {
            throw new StoreUnavailableException($"Bank flood counters unavailable: {e.Message}", e);
        }
    }

    /// <summary>Every quarantined entry, by bank and id.</summary>
    /// <exception cref="StoreUnavailableException">The store could not be read.</exception>
    public async Task<IReadOnlyList<QuarantinedEntry>> ListAsync()
    {
        HashEntry[] all;
        try
        {
            all = await _redis.GetDatabase().HashGetAllAsync(QuarantineKey).ConfigureAwait(false);
        }
        catch (RedisException e)
        {
            throw new StoreUnavailableException($"Bank quarantine unavailable: {e.Message}", e);
        }
        var list = new List<QuarantinedEntry>();
        foreach (var entry in all)
        {
            var parts = entry.Name.ToString().Split('\n', 2);
            if (parts.Length != 2) continue;
            Stored? stored = null;
            try { stored = JsonSerializer.Deserialize<Stored>(entry.Value.ToString()); } catch (JsonException) { }
            list.Add(new QuarantinedEntry(parts[0], parts[1], stored?.Uploads ?? 0, stored?.Window ?? "", stored?.At ?? DateTimeOffset.UnixEpoch));
        }
        return [.. list.OrderBy(e => e.Bank, StringComparer.Ordinal).ThenBy(e => e.Id, StringComparer.Ordinal)];
    }

    /// <summary>Releases a quarantined entry (its matches act by its bank's rule again) and clears its window, so it is
    /// not quarantined again by the uploads that flooded it.</summary>
    /// <returns>False when the entry was not quarantined.</returns>
    /// <exception cref="StoreUnavailableException">The store could not be written.</exception>
    public async Task<bool> ReleaseAsync(string bank, string id)
    {
        try
        {
            var db = _redis.GetDatabase();
            bool released = await db.HashDeleteAsync(QuarantineKey, Field(bank, id)).ConfigureAwait(false);
            await db.KeyDeleteAsync(WindowKey(bank, id)).ConfigureAwait(false);
            return released;
        }
        catch (RedisException e)
        {
            throw new StoreUnavailableException($"Bank quarantine unavailable: {e.Message}", e);
        }
    }

    private sealed record Stored(int Uploads, string Window, DateTimeOffset At);
}
