using System.Text.Json;
using Moderation.Streams.Contracts;
using StackExchange.Redis;

namespace Moderation.Streams.Review;

/// <summary>
/// The review queue in Redis (or Garnet). Kafka is the record: the queue can be rebuilt by re-reading
/// <c>moderation.decisions.review</c> (items with a verdict are not queued again).
/// </summary>
/// <remarks>Keys under the prefix, all with the <c>{review}</c> hash tag so one transaction may touch several on a cluster:
/// <list type="bullet">
/// <item><c>{review}:queue</c>: sorted set, content id → queued-at (unix ms): oldest first.</item>
/// <item><c>{review}:priority</c>: sorted set, content id → priority: most urgent first.</item>
/// <item><c>{review}:item:ID</c>: the <see cref="ReviewItem"/> as JSON.</item>
/// <item><c>{review}:claim:ID</c>: the claiming reviewer, expiring after the claim TTL.</item>
/// <item><c>{review}:verdict:ID</c>: the <see cref="VerdictRecord"/> (pending, then done); never expires, so an item is
/// judged once.</item>
/// <item><c>{review}:pending</c>: set of content ids whose verdict is not yet fully published.</item>
/// <item><c>{review}:audit</c>: list of done verdicts, newest first, capped at <see cref="AuditCap"/> (the topic keeps all).</item>
/// <item><c>{review}:judged</c>: set of content ids with a verdict, refilled from <c>moderation.reviews</c> when the store
/// is rebuilt, so a judged item is never queued again.</item>
/// <item><c>{review}:initialised</c>: set once the store holds the queue (absent in an empty or wiped store: the console
/// then rebuilds it from the topics).</item>
/// <item><c>{review}:overturns</c>: hash, <c>MODEL_VERSION|CLASS|reviewed</c> and <c>…|overturned</c> → counts.</item>
/// </list></remarks>
public sealed class ReviewStore
{
    public const int AuditCap = 100_000;
    private readonly IConnectionMultiplexer _redis;
    private readonly string _p;

    public ReviewStore(IConnectionMultiplexer redis, string keyPrefix = "moderation:")
    {
        _redis = redis;
        _p = keyPrefix + "{review}:";
    }

    private IDatabase Db => _redis.GetDatabase();
    private RedisKey QueueKey => _p + "queue";
    private RedisKey PriorityKey => _p + "priority";
    private RedisKey PendingKey => _p + "pending";
    private RedisKey AuditKey => _p + "audit";
    private RedisKey OverturnsKey => _p + "overturns";
    private RedisKey JudgedKey => _p + "judged";
    private RedisKey InitialisedKey => _p + "initialised";
    private RedisKey ItemKey(string id) => _p + "item:" + id;
    private RedisKey ClaimKey(string id) => _p + "claim:" + id;
    private RedisKey VerdictKey(string id) => _p + "verdict:" + id;
    private RedisKey PublishingKey(string id) => _p + "publishing:" + id;

    private static byte[] Json<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, ContractJson.Options);
    private static T? Parse<T>(RedisValue value) where T : class =>
        value.IsNull ? null : JsonSerializer.Deserialize<T>((byte[])value!, ContractJson.Options);

    /// <summary>Queues <paramref name="item"/> unless it is queued or judged already (a redelivered or replayed decision).</summary>
    /// <returns>True when it was queued now.</returns>
    public async Task<bool> EnqueueAsync(ReviewItem item)
    {
        var tx = Db.CreateTransaction();
        tx.AddCondition(Condition.KeyNotExists(ItemKey(item.ContentId)));
        tx.AddCondition(Condition.KeyNotExists(VerdictKey(item.ContentId)));
        tx.AddCondition(Condition.SetNotContains(JudgedKey, item.ContentId));
        _ = tx.StringSetAsync(ItemKey(item.ContentId), Json(item));
        _ = tx.SortedSetAddAsync(QueueKey, item.ContentId, item.QueuedAt.ToUnixTimeMilliseconds());
        _ = tx.SortedSetAddAsync(PriorityKey, item.ContentId, item.Priority);
        return await tx.ExecuteAsync().ConfigureAwait(false);
    }

    public async Task<ReviewItem?> GetItemAsync(string contentId) =>
        Parse<ReviewItem>(await Db.StringGetAsync(ItemKey(contentId)).ConfigureAwait(false));

    /// <summary>Replaces a queued item's stored form (upload details learnt, escalation); false when it is no longer queued.</summary>
    public async Task<bool> UpdateItemAsync(ReviewItem item)
    {
        var tx = Db.CreateTransaction();
        tx.AddCondition(Condition.KeyExists(ItemKey(item.ContentId)));
        tx.AddCondition(Condition.KeyNotExists(VerdictKey(item.ContentId)));
        _ = tx.StringSetAsync(ItemKey(item.ContentId), Json(item));
        _ = tx.SortedSetAddAsync(PriorityKey, item.ContentId, item.Priority);
        return await tx.ExecuteAsync().ConfigureAwait(false);
    }

    /// <summary>Queued items with their claim holders: oldest first, or most urgent first.</summary>
    public async Task<IReadOnlyList<(ReviewItem Item, string? ClaimedBy)>> ListAsync(int limit, bool byPriority = false, int offset = 0)
    {
        var ids = byPriority
            ? await Db.SortedSetRangeByRankAsync(PriorityKey, offset, offset + limit - 1, Order.Descending).ConfigureAwait(false)
            : await Db.SortedSetRangeByRankAsync(QueueKey, offset, offset + limit - 1, Order.Ascending).ConfigureAwait(false);
        if (ids.Length == 0) return [];
        var items = await Db.StringGetAsync([.. ids.Select(id => ItemKey(id!))]).ConfigureAwait(false);
        var claims = await Db.StringGetAsync([.. ids.Select(id => ClaimKey(id!))]).ConfigureAwait(false);
        var list = new List<(ReviewItem, string?)>(ids.Length);
        for (int i = 0; i < ids.Length; i++)
            if (Parse<ReviewItem>(items[i]) is { } item) list.Add((item, claims[i].IsNull ? null : (string?)claims[i]));
        return list;
    }

    public async Task<string?> ClaimedByAsync(string contentId)
    {
        var v = await Db.StringGetAsync(ClaimKey(contentId)).ConfigureAwait(false);
        return v.IsNull ? null : (string?)v;
    }

    /// <summary>How long each of <paramref name="contentIds"/>' claims has left (null when not claimed).</summary>
    public async Task<IReadOnlyList<TimeSpan?>> ClaimTimesLeftAsync(IReadOnlyList<string> contentIds)
    {
        var db = Db;
        var ttls = await Task.WhenAll(contentIds.Select(id => db.KeyTimeToLiveAsync(ClaimKey(id)))).ConfigureAwait(false);
        return ttls;
    }

    public async Task<(long Depth, DateTimeOffset? Oldest)> DepthAsync()
    {
        long depth = await Db.SortedSetLengthAsync(QueueKey).ConfigureAwait(false);
        var oldest = await Db.SortedSetRangeByRankWithScoresAsync(QueueKey, 0, 0).ConfigureAwait(false);
        return (depth, oldest.Length == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds((long)oldest[0].Score));
    }

    /// <summary>Claims <paramref name="contentId"/> for <paramref name="reviewer"/> for <paramref name="ttl"/>; a reviewer's
    /// own claim is renewed. No item is ever held by two reviewers: the claim is one SET NX.</summary>
    public async Task<ClaimOutcome> ClaimAsync(string contentId, string reviewer, TimeSpan ttl)
    {
        var db = Db;
        if (await db.KeyExistsAsync(VerdictKey(contentId)).ConfigureAwait(false)) return new(ClaimStatus.AlreadyDecided);
        if (!await db.KeyExistsAsync(ItemKey(contentId)).ConfigureAwait(false)) return new(ClaimStatus.NotFound);
        if (await db.StringSetAsync(ClaimKey(contentId), reviewer, ttl, When.NotExists).ConfigureAwait(false)) return ClaimOutcome.Ok(reviewer);
        // Held: renewed when it is the caller's own (atomically: a claim that passed to another meanwhile is not renewed).
        if (await db.LockExtendAsync(ClaimKey(contentId), reviewer, ttl).ConfigureAwait(false)) return ClaimOutcome.Ok(reviewer);
        var holder = await ClaimedByAsync(contentId).ConfigureAwait(false);
        // The claim expired between the two steps: try once more.
        if (holder is null && await db.StringSetAsync(ClaimKey(contentId), reviewer, ttl, When.NotExists).ConfigureAwait(false)) return ClaimOutcome.Ok(reviewer);
        return new(ClaimStatus.HeldByOther, holder);
    }

    /// <summary>Gives a claim back: the holder's own, or anyone's when <paramref name="force"/> (admins).</summary>
    public async Task<ClaimOutcome> ReleaseAsync(string contentId, string reviewer, bool force = false)
    {
        var holder = await ClaimedByAsync(contentId).ConfigureAwait(false);
        if (holder is null) return new(ClaimStatus.NotHeld);
        if (holder != reviewer && !force) return new(ClaimStatus.HeldByOther, holder);
        return await Db.LockReleaseAsync(ClaimKey(contentId), holder).ConfigureAwait(false)
            ? ClaimOutcome.Ok(holder)
            : new(ClaimStatus.HeldByOther, await ClaimedByAsync(contentId).ConfigureAwait(false));
    }

    /// <summary>Records <paramref name="record"/> as pending, only while <paramref name="reviewer"/> holds the claim and no
    /// verdict exists: of two verdicts racing for one claim, exactly one is written.</summary>
    /// <param name="publisher">This process: it holds the publishing lock for <paramref name="lockTtl"/>, so a recovery
    /// elsewhere leaves the verdict alone meanwhile.</param>
    public async Task<ClaimOutcome> BeginVerdictAsync(string contentId, string reviewer, VerdictRecord record, string publisher, TimeSpan lockTtl)
    {
        var db = Db;
        var tx = db.CreateTransaction();
        tx.AddCondition(Condition.KeyExists(ItemKey(contentId)));
        tx.AddCondition(Condition.KeyNotExists(VerdictKey(contentId)));
        tx.AddCondition(Condition.StringEqual(ClaimKey(contentId), reviewer));
        _ = tx.StringSetAsync(VerdictKey(contentId), Json(record));
        _ = tx.SetAddAsync(PendingKey, contentId);
        _ = tx.StringSetAsync(PublishingKey(contentId), publisher, lockTtl);
        if (await tx.ExecuteAsync().ConfigureAwait(false)) return ClaimOutcome.Ok(reviewer);
        if (await db.KeyExistsAsync(VerdictKey(contentId)).ConfigureAwait(false)) return new(ClaimStatus.AlreadyDecided);
        if (!await db.KeyExistsAsync(ItemKey(contentId)).ConfigureAwait(false)) return new(ClaimStatus.NotFound);
        var holder = await ClaimedByAsync(contentId).ConfigureAwait(false);
        return new(holder is null ? ClaimStatus.NotHeld : ClaimStatus.HeldByOther, holder);
    }

    /// <summary>Marks a pending verdict done (once: the pending-set membership is the condition): the item leaves the queue,
    /// its claim goes, the audit and overturn counts get it.</summary>
    /// <returns>False when it was not pending (completed already).</returns>
    public async Task<bool> CompleteVerdictAsync(VerdictRecord record)
    {
        string id = record.Event.ContentId;
        var done = record with { State = VerdictRecord.Done };
        var tx = Db.CreateTransaction();
        tx.AddCondition(Condition.SetContains(PendingKey, id));
        _ = tx.StringSetAsync(VerdictKey(id), Json(done));
        _ = tx.SetRemoveAsync(PendingKey, id);
        _ = tx.SetAddAsync(JudgedKey, id);
        _ = tx.SortedSetRemoveAsync(QueueKey, id);
        _ = tx.SortedSetRemoveAsync(PriorityKey, id);
        _ = tx.KeyDeleteAsync(ItemKey(id));
        _ = tx.KeyDeleteAsync(ClaimKey(id));
        _ = tx.ListLeftPushAsync(AuditKey, Json(done));
        _ = tx.ListTrimAsync(AuditKey, 0, AuditCap - 1);
        foreach (var (field, by) in Overturns.Fields(record.Decision, record.Event.Verdict))
            _ = tx.HashIncrementAsync(OverturnsKey, field, by);
        return await tx.ExecuteAsync().ConfigureAwait(false);
    }

    /// <summary>Takes the publishing lock of a pending verdict for <paramref name="publisher"/> (a recovery): free, or held
    /// under the same name (the console restarted under its instance name: the holder was its former self); false when
    /// another console holds it (publishing now, or crashed less than the lock's TTL ago).</summary>
    public async Task<bool> TryLockPublishingAsync(string contentId, string publisher, TimeSpan ttl)
    {
        var db = Db;
        return await db.LockTakeAsync(PublishingKey(contentId), publisher, ttl).ConfigureAwait(false)
            || await db.LockExtendAsync(PublishingKey(contentId), publisher, ttl).ConfigureAwait(false);
    }

    public Task UnlockPublishingAsync(string contentId, string publisher) => Db.LockReleaseAsync(PublishingKey(contentId), publisher);

    /// <summary>Whether the store holds the queue already (false in an empty or wiped store).</summary>
    public Task<bool> IsInitialisedAsync() => Db.KeyExistsAsync(InitialisedKey);

    public Task MarkInitialisedAsync(DateTimeOffset at) => Db.StringSetAsync(InitialisedKey, at.ToUnixTimeMilliseconds());

    /// <summary>Records content ids as judged (read back from <c>moderation.reviews</c>): they are never queued again.</summary>
    public Task MarkJudgedAsync(IReadOnlyCollection<string> contentIds) =>
        contentIds.Count == 0 ? Task.CompletedTask : Db.SetAddAsync(JudgedKey, [.. contentIds.Select(id => (RedisValue)id)]);

    public Task<bool> IsJudgedAsync(string contentId) => Db.SetContainsAsync(JudgedKey, contentId);

    public async Task<VerdictRecord?> GetVerdictAsync(string contentId) =>
        Parse<VerdictRecord>(await Db.StringGetAsync(VerdictKey(contentId)).ConfigureAwait(false));

    public async Task<IReadOnlyList<VerdictRecord>> PendingAsync()
    {
        var ids = await Db.SetMembersAsync(PendingKey).ConfigureAwait(false);
        var list = new List<VerdictRecord>();
        foreach (var id in ids)
            if (await GetVerdictAsync(id!).ConfigureAwait(false) is { } r) list.Add(r);
        return list;
    }

    public async Task<IReadOnlyList<VerdictRecord>> AuditAsync(int limit)
    {
        var values = await Db.ListRangeAsync(AuditKey, 0, Math.Max(0, limit - 1)).ConfigureAwait(false);
        return [.. values.Select(v => Parse<VerdictRecord>(v)).OfType<VerdictRecord>()];
    }

    /// <summary>The overturn counts: (model version, class) → (reviewed, overturned).</summary>
    public async Task<IReadOnlyList<OverturnRow>> OverturnsAsync()
    {
        var entries = await Db.HashGetAllAsync(OverturnsKey).ConfigureAwait(false);
        return Overturns.Rows(entries.Select(e => ((string)e.Name!, (long)e.Value)));
    }
}
