using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;
using Polly;
using Polly.Timeout;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.Uploaders;

/// <summary>
/// The uploader and campaign counters every worker shares (the policy's <c>uploaders</c> section), in Redis, one round
/// trip per upload.
/// </summary>
/// <remarks>
/// <para>Sliding windows over sorted sets: member = <c>content_id</c>, score = the time it was counted (ms). Sorted sets
/// make the count idempotent for free — a redelivered or replayed upload is the same member, and <c>ZADD NX</c> keeps its
/// first time — and exact at any window length, where buckets would need one key per bucket and round the window's
/// edge. Each write trims what left the window and caps the set (<see cref="MaxMembers"/> newest), and the key expires
/// with its window, so an idle uploader costs nothing.</para>
/// <para>Keys: <c>{prefix}up:{u:&lt;uploader&gt;}:v</c> (uploads, velocity) and <c>…:s</c> (takedowns, strikes) share a
/// hash tag, so one uploader's keys live in one Redis Cluster slot. Campaigns: the PDQ hash is cut into 16 segments of
/// 16 bits, and each recent upload is a member <c>&lt;hash&gt;|&lt;uploader&gt;|&lt;content_id&gt;</c> of the 16 keys
/// <c>{prefix}cp:{&lt;segment&gt;:&lt;4 hex&gt;}</c>. A lookup reads those 16 buckets and keeps candidates within the
/// rule's distance: any picture within 15 bits shares a whole segment (pigeonhole), so it is always found; at 16–31
/// bits one is found unless every segment differs (for flips spread at random: ~98% of pairs at 25 bits, ~92% at 31).</para>
/// </remarks>
public sealed class RedisUploaderState : IUploaderState
{
    /// <summary>Members kept per key: counts saturate here (policies count far fewer), memory stays bounded.</summary>
    public const int MaxMembers = PolicyCountRule.MaxReviewAt;

    /// <summary>Campaign candidates read per bucket, newest first.</summary>
    public const int MaxCandidatesPerBucket = 256;

    private const int Segments = 16;
    private readonly IConnectionMultiplexer _redis;
    private readonly string _prefix;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline _pipeline;

    public RedisUploaderState(IConnectionMultiplexer redis, string keyPrefix = "moderation:", TimeProvider? time = null, RedisCacheOptions? resilience = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        _redis = redis;
        _prefix = StoreKeys.CheckPrefix(keyPrefix);
        _time = time ?? TimeProvider.System;
        _pipeline = StoreResilience.ForCounters(resilience, _time);
    }

    public string VelocityKey(string uploader) => $"{_prefix}up:{{u:{uploader}}}:v";
    public string StrikesKey(string uploader) => $"{_prefix}up:{{u:{uploader}}}:s";
    public string CampaignKey(int segment, ushort value) => $"{_prefix}cp:{{{segment:x}:{value:x4}}}";

    public async Task<UploaderSignal> CountAsync(UploaderCount request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        var rules = request.Rules;
        var uploader = request.UploaderId;
        PdqHash? hash = rules.Campaigns is not null && uploader is not null && PdqHash.TryParse(request.PdqHex, out var parsed) ? parsed : null;
        if (uploader is null || (rules.Strikes is null && rules.Velocity is null && hash is null)) return UploaderSignal.NotCounted;
        try
        {
            return await _pipeline.ExecuteAsync(static async (state, token) => await state.Self.CountOnceAsync(state.Request, state.Uploader, state.Hash).WaitAsync(token).ConfigureAwait(false),
                (Self: this, Request: request, Uploader: uploader, Hash: hash), ct).ConfigureAwait(false);
        }
        catch (Exception e) when (StoreResilience.IsStoreFailure(e, ct))
        {
            throw new StoreUnavailableException($"Uploader counters unavailable: {e.Message}", e);
        }
    }

    private async Task<UploaderSignal> CountOnceAsync(UploaderCount request, string uploader, PdqHash? hash)
    {
        var rules = request.Rules;
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var db = _redis.GetDatabase();
        var batch = db.CreateBatch();
        var tasks = new List<Task>();
        Task<long>? velocity = null, strikes = null;
        Task<double?>? ownStrike = null;
        if (rules.Velocity is { } v)
        {
            var key = VelocityKey(uploader);
            if (request.Record) tasks.AddRange(Add(batch, key, request.ContentId, now, v.Span));
            velocity = batch.SortedSetLengthAsync(key, now - (long)v.Span.TotalMilliseconds, double.PositiveInfinity, Exclude.Start);
        }
        Task<double?>? ownUpload = request.Record || rules.Velocity is null ? null : batch.SortedSetScoreAsync(VelocityKey(uploader), request.ContentId);
        if (rules.Strikes is { } s)
        {
            var key = StrikesKey(uploader);
            strikes = batch.SortedSetLengthAsync(key, now - (long)s.Span.TotalMilliseconds, double.PositiveInfinity, Exclude.Start);
            ownStrike = batch.SortedSetScoreAsync(key, request.ContentId);
        }
        var buckets = new List<Task<RedisValue[]>>();
        string? member = null;
        if (hash is { } h && rules.Campaigns is { } c)
        {
            member = $"{h}|{uploader}|{request.ContentId}";
            long from = now - (long)c.Span.TotalMilliseconds;
            for (int i = 0; i < Segments; i++)
            {
                var key = CampaignKey(i, Segment(h, i));
                buckets.Add(batch.SortedSetRangeByScoreAsync(key, from, double.PositiveInfinity, Exclude.Start, Order.Descending, 0, MaxCandidatesPerBucket));
                if (request.Record) tasks.AddRange(Add(batch, key, member, now, c.Span));
            }
        }
        batch.Execute();
        await Task.WhenAll(tasks.Concat(buckets).Concat(new Task?[] { velocity, strikes, ownStrike, ownUpload }.OfType<Task>())).ConfigureAwait(false);

        int? campaign = null;
        if (hash is { } mine && rules.Campaigns is { } rule)
        {
            var uploaders = new HashSet<string>(StringComparer.Ordinal) { uploader };
            foreach (var candidate in buckets.SelectMany(b => b.Result))
            {
                var parts = candidate.ToString().Split('|');
                if (parts.Length != 3 || !PdqHash.TryParse(parts[0], out var other)) continue;
                if (PdqHash.Distance(mine, other) <= rule.MaxDistance) uploaders.Add(parts[1]);
            }
            campaign = uploaders.Count;
        }
        return new UploaderSignal
        {
            // Strikes before this upload: a redelivered upload that was already a strike does not count against itself.
            Strikes = strikes is null ? null : (int)(strikes.Result - (ownStrike!.Result is null ? 0 : 1)),
            // Uploads in the window with this one; read-only (replay), it is counted as if it were added.
            Velocity = velocity is null ? null : (int)(velocity.Result + (request.Record || ownUpload!.Result is not null ? 0 : 1)),
            CampaignUploaders = campaign,
        };
    }

    /// <summary>Records a takedown of <paramref name="contentId"/> as a strike for <paramref name="uploader"/> (once, however
    /// often it is decided).</summary>
    public async Task RecordStrikeAsync(string uploader, string contentId, TimeSpan window, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(uploader);
        ArgumentException.ThrowIfNullOrEmpty(contentId);
        try
        {
            await _pipeline.ExecuteAsync(static async (state, token) =>
            {
                var batch = state.Self._redis.GetDatabase().CreateBatch();
                var writes = Add(batch, state.Self.StrikesKey(state.Uploader), state.ContentId, state.Self._time.GetUtcNow().ToUnixTimeMilliseconds(), state.Window);
                batch.Execute();
                await Task.WhenAll(writes).WaitAsync(token).ConfigureAwait(false);
            }, (Self: this, Uploader: uploader, ContentId: contentId, Window: window), ct).ConfigureAwait(false);
        }
        catch (Exception e) when (StoreResilience.IsStoreFailure(e, ct))
        {
            throw new StoreUnavailableException($"Uploader strike not recorded: {e.Message}", e);
        }
    }

    /// <summary>Adds a member once (its first time kept), trims what left the window and what is over the cap, and
    /// lets the key expire with the window.</summary>
    private static Task[] Add(IBatch batch, string key, string member, long now, TimeSpan window) =>
    [
        batch.SortedSetAddAsync(key, member, now, SortedSetWhen.NotExists),
        batch.SortedSetRemoveRangeByScoreAsync(key, double.NegativeInfinity, now - (long)window.TotalMilliseconds),
        batch.SortedSetRemoveRangeByRankAsync(key, 0, -MaxMembers - 1),
        batch.KeyExpireAsync(key, window + TimeSpan.FromSeconds(1)),
    ];

    private static ushort Segment(PdqHash hash, int index) => hash.GetUInt16(index);
}
