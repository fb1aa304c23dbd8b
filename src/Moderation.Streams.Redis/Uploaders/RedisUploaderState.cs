using System.Globalization;
using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;
using Polly;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.Uploaders;

/// <summary>How <see cref="RedisUploaderState"/> talks to the server.</summary>
public enum UploaderScripts
{
    /// <summary>One Lua script per upload; on a Redis Cluster one per slot (<see cref="PerSlot"/>).</summary>
    Auto,

    /// <summary>One script for the uploader's keys and one per campaign bucket: 17 commands, each script's keys in one slot
    /// (each bucket then keeps its own filed content ids: a layout of its own, for a cluster's workers).</summary>
    PerSlot,

    /// <summary>Plain commands, pipelined (two round trips when a campaign is recorded): for a server without scripting.</summary>
    Off,
}

/// <summary>
/// The uploader and campaign counters every worker shares (the policy's <c>uploaders</c> section), in Redis: one Lua
/// script per upload (one per Redis Cluster slot on a cluster), or plain pipelined commands on a server that refuses
/// scripts (<see cref="UploaderScripts"/>).
/// </summary>
/// <remarks>
/// <para>Sliding windows over sorted sets: member = <c>content_id</c>, score = the time it was counted (ms). Sorted sets
/// make the count idempotent for free — a redelivered or replayed upload is the same member, and <c>ZADD NX</c> keeps its
/// first time — and exact at any window length, where buckets would need one key per bucket and round the window's
/// edge. Reads count within the window (a score range: <c>ZCOUNT</c>, <c>ZREVRANGEBYSCORE</c>), so they are exact whether
/// or not a trim ran; writes trim what left the window and cap the set (<see cref="MaxMembers"/> newest) on one write in
/// <see cref="TrimEvery"/> on average (memory only), and every write lets the key expire with its window, so an idle
/// uploader or picture costs nothing.</para>
/// <para>Keys: <c>{prefix}up:{u:&lt;uploader&gt;}:v</c> (uploads, velocity) and <c>…:s</c> (takedowns, strikes) share a
/// hash tag, so one uploader's keys live in one Redis Cluster slot. Campaigns: the PDQ hash is cut into 16 segments of
/// 16 bits; each segment value is a bucket <c>{prefix}cp:{&lt;segment&gt;:&lt;4 hex&gt;}:u</c> whose members are
/// <c>&lt;hash&gt;|&lt;uploader&gt;</c> pairs scored by the newest upload of that picture by that uploader. Which uploads
/// are already filed (so that a redelivery raises nothing) is one set per uploader, <c>…up:{u:&lt;uploader&gt;}:c</c>, or,
/// per slot on a cluster, one set per bucket, <c>…cp:{…}:c</c>, beside its pairs. A lookup reads the 16 buckets within the
/// window, so it costs what the distinct (picture, uploader) pairs cost, not every copy uploaded, and keeps candidates
/// within the rule's distance: any picture within 15 bits shares a whole segment (pigeonhole), so it is always found; at
/// 16–31 bits one is found unless every segment differs (for flips spread at random: ~98% of pairs at 25 bits, ~92% at
/// 31).</para>
/// </remarks>
public sealed class RedisUploaderState : IUploaderState
{
    /// <summary>Members kept per key: counts saturate near here (policies count far fewer), memory stays bounded.</summary>
    public const int MaxMembers = PolicyCountRule.MaxReviewAt;

    /// <summary>Campaign candidates (distinct picture and uploader pairs) read per bucket, newest first.</summary>
    public const int MaxCandidatesPerBucket = 256;

    /// <summary>A write trims its key on one write in this many on average.</summary>
    public const int TrimEvery = 8;

    private const int Segments = 16;

    // ARGV of the uploader's part: 1 content id, 2 record (1/0), 3 velocity's exclusive window start "(ms" (empty: no
    // velocity rule), 4 velocity's trim bound (ms, inclusive), 5 now (ms), 6 the cap's rank (-MaxMembers-1), 7 velocity's
    // expiry (ms), 8 strikes' exclusive window start (ms; empty: no strikes rule), 9 trim (1/0). KEYS[1] velocity, KEYS[2]
    // strikes. A strike of this very content does not count against it; a read without recording counts the upload as
    // if it were added.
    private const string UploaderPart = """
        local velocity, strikes = -1, -1
        if ARGV[3] ~= '' then
          local k = KEYS[1]
          if ARGV[2] == '1' then
            if redis.call('ZADD', k, 'NX', ARGV[5], ARGV[1]) == 1 and ARGV[9] == '1' then
              redis.call('ZREMRANGEBYSCORE', k, '-inf', ARGV[4])
              redis.call('ZREMRANGEBYRANK', k, 0, ARGV[6])
            end
            redis.call('PEXPIRE', k, ARGV[7])
            velocity = redis.call('ZCOUNT', k, ARGV[3], '+inf')
          else
            velocity = redis.call('ZCOUNT', k, ARGV[3], '+inf')
            if not redis.call('ZSCORE', k, ARGV[1]) then velocity = velocity + 1 end
          end
        end
        if ARGV[8] ~= '' then
          local k = KEYS[2]
          strikes = redis.call('ZCOUNT', k, '(' .. ARGV[8], '+inf')
          local own = redis.call('ZSCORE', k, ARGV[1])
          if own and tonumber(own) > tonumber(ARGV[8]) then strikes = strikes - 1 end
        end

        """;

    // Campaign ARGV from a: +0 the window's exclusive start "(ms", +1 candidates to read per bucket, +2 record (1/0),
    // +3 content id, +4 the pair "<hash>|<uploader>", +5 now (ms), +6 trim bound (ms, inclusive), +7 the cap's rank,
    // +8 expiry (ms), +9 trim (1/0). file: files the content id in ck, true when it was not filed yet (a new upload, not a
    // redelivery). bucket: reads the pairs of uk in the window, then, for a fresh upload, raises its pair to now.
    private const string CampaignFunctions = """
        local function file(ck, a)
          if ARGV[a + 2] ~= '1' or redis.call('ZADD', ck, 'NX', ARGV[a + 5], ARGV[a + 3]) == 0 then return false end
          if ARGV[a + 9] == '1' then
            redis.call('ZREMRANGEBYSCORE', ck, '-inf', ARGV[a + 6])
            redis.call('ZREMRANGEBYRANK', ck, 0, ARGV[a + 7])
          end
          redis.call('PEXPIRE', ck, ARGV[a + 8])
          return true
        end
        local function bucket(uk, a, fresh)
          local found = redis.call('ZREVRANGEBYSCORE', uk, '+inf', ARGV[a], 'LIMIT', 0, ARGV[a + 1])
          if fresh then
            redis.call('ZADD', uk, 'GT', ARGV[a + 5], ARGV[a + 4])
            if ARGV[a + 9] == '1' then
              redis.call('ZREMRANGEBYSCORE', uk, '-inf', ARGV[a + 6])
              redis.call('ZREMRANGEBYRANK', uk, 0, ARGV[a + 7])
            end
            redis.call('PEXPIRE', uk, ARGV[a + 8])
          end
          return found
        end

        """;

    /// <summary>KEYS: velocity, strikes, then (campaigns) the uploader's filed content ids and the 16 buckets' pairs. ARGV:
    /// the uploader's part (1–9), the campaign's (10–19). Returns {velocity, strikes, distinct pairs…}, -1 where not
    /// counted.</summary>
    private const string OneScript = CampaignFunctions + UploaderPart + """
        local out, seen = {velocity, strikes}, {}
        if #KEYS > 2 then
          local fresh = file(KEYS[3], 10)
          for b = 4, #KEYS do
            local found = bucket(KEYS[b], 10, fresh)
            for i = 1, #found do
              local m = found[i]
              if not seen[m] then
                seen[m] = true
                out[#out + 1] = m
              end
            end
          end
        end
        return out
        """;

    private const string UploaderScript = UploaderPart + "return {velocity, strikes}";

    /// <summary>One bucket in its own slot (<see cref="UploaderScripts.PerSlot"/>): its own filed content ids decide.</summary>
    private const string BucketScript = CampaignFunctions + "return bucket(KEYS[2], 1, file(KEYS[1], 1))";

    private static readonly TimeSpan ExpirySlack = TimeSpan.FromSeconds(1);
    private static readonly string Cap = (-MaxMembers - 1).ToString(CultureInfo.InvariantCulture);

    private readonly IConnectionMultiplexer _redis;
    private readonly string _prefix;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline _pipeline;
    private volatile UploaderScripts _scripts;
    private volatile bool _clusterChecked;

    /// <param name="scripts">How to talk to the server; <see cref="UploaderScripts.Auto"/> picks one script per upload, one
    /// per slot on a cluster. A server that refuses scripts (Garnet without <c>--lua true</c>) turns it to
    /// <see cref="UploaderScripts.Off"/> at its first refusal (<see cref="ScriptsRefused"/>).</param>
    public RedisUploaderState(IConnectionMultiplexer redis, string keyPrefix = "moderation:", TimeProvider? time = null, RedisCacheOptions? resilience = null,
        UploaderScripts scripts = UploaderScripts.Auto)
    {
        ArgumentNullException.ThrowIfNull(redis);
        _redis = redis;
        _prefix = StoreKeys.CheckPrefix(keyPrefix);
        _time = time ?? TimeProvider.System;
        _pipeline = StoreResilience.ForCounters(resilience, _time);
        _scripts = Enum.IsDefined(scripts) ? scripts : throw new ArgumentOutOfRangeException(nameof(scripts));
    }

    /// <summary>How counts are sent now: what was asked, or <see cref="UploaderScripts.Off"/> after the server refused a
    /// script (<see cref="UploaderScripts.PerSlot"/> once <see cref="UploaderScripts.Auto"/> met a cluster).</summary>
    public UploaderScripts Scripts => _scripts;

    /// <summary>The server's refusal that turned scripts off, or null.</summary>
    public string? ScriptsRefused { get; private set; }

    public string VelocityKey(string uploader) => $"{_prefix}up:{{u:{uploader}}}:v";
    public string StrikesKey(string uploader) => $"{_prefix}up:{{u:{uploader}}}:s";

    /// <summary>The uploader's content ids filed in the campaign index (one script, or plain commands): a redelivered
    /// upload is found here and raises nothing.</summary>
    public string CampaignFiledKey(string uploader) => $"{_prefix}up:{{u:{uploader}}}:c";

    /// <summary>A campaign bucket's content ids, in the slot of its <see cref="CampaignPairsKey"/>: the filed ids of
    /// <see cref="UploaderScripts.PerSlot"/>, whose scripts cannot reach the uploader's slot.</summary>
    public string CampaignKey(int segment, ushort value) => $"{_prefix}cp:{{{segment:x}:{value:x4}}}:c";

    /// <summary>A campaign bucket's (picture, uploader) pairs.</summary>
    public string CampaignPairsKey(int segment, ushort value) => $"{_prefix}cp:{{{segment:x}:{value:x4}}}:u";

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
        var args = new Args(request, uploader, hash, _time.GetUtcNow().ToUnixTimeMilliseconds(), Random.Shared.Next(TrimEvery) == 0);
        if (_scripts == UploaderScripts.Auto && !_clusterChecked)
        {
            if (_redis.GetServers().Any(s => s.ServerType == ServerType.Cluster)) _scripts = UploaderScripts.PerSlot;
            _clusterChecked = _redis.IsConnected;
        }
        if (_scripts != UploaderScripts.Off)
        {
            try
            {
                return _scripts == UploaderScripts.Auto ? await CountInOneScriptAsync(args).ConfigureAwait(false) : await CountPerSlotAsync(args).ConfigureAwait(false);
            }
            catch (RedisException e) when (_scripts == UploaderScripts.Auto && e.Message.Contains("slot", StringComparison.OrdinalIgnoreCase))
            {
                // A cluster seen only now (CROSSSLOT): nothing of the script ran.
                _scripts = UploaderScripts.PerSlot;
                return await CountPerSlotAsync(args).ConfigureAwait(false);
            }
            catch (RedisServerException e) when (RefusesScripts(e))
            {
                // Every write is idempotent (ZADD NX keyed by content id, a pair raised only for a content id not filed
                // yet), so counting again below is exact even where some scripts ran.
                ScriptsRefused = e.Message;
                _scripts = UploaderScripts.Off;
            }
        }
        return await CountPlainAsync(args).ConfigureAwait(false);
    }

    /// <summary>A server without scripting (Garnet's default, an ACL or a proxy that denies EVAL) answers like this; other
    /// server errors (LOADING, READONLY, MOVED, BUSY while another client's script runs, NOSCRIPT after a flush) are not a
    /// reason to stop using scripts: they fail this count like any store failure.</summary>
    private static bool RefusesScripts(RedisServerException e) =>
        !e.Message.StartsWith("BUSY", StringComparison.Ordinal) && !e.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal)
        && (e.Message.Contains("unknown command", StringComparison.OrdinalIgnoreCase)
        || e.Message.Contains("eval", StringComparison.OrdinalIgnoreCase)
        || e.Message.Contains("script", StringComparison.OrdinalIgnoreCase)
        || e.Message.Contains("lua", StringComparison.OrdinalIgnoreCase));

    /// <summary>What one count sends, computed once whichever way it is sent.</summary>
    private sealed class Args
    {
        public Args(UploaderCount request, string uploader, PdqHash? hash, long now, bool trim)
        {
            var rules = request.Rules;
            Request = request;
            Uploader = uploader;
            Now = now;
            Trim = trim;
            if (hash is { } h && rules.Campaigns is { } c)
            {
                Hash = h;
                Pair = $"{h}|{uploader}";
                CampaignFrom = now - (long)c.Span.TotalMilliseconds;
                CampaignExpiry = (long)(c.Span + ExpirySlack).TotalMilliseconds;
            }
            Counters = rules.Velocity is not null || rules.Strikes is not null;
        }

        public UploaderCount Request { get; }
        public string Uploader { get; }
        public long Now { get; }
        public bool Trim { get; }
        public bool Counters { get; }
        public PdqHash? Hash { get; }
        public string? Pair { get; }
        public long CampaignFrom { get; }
        public long CampaignExpiry { get; }
        public PolicyUploaders Rules => Request.Rules;

        public RedisValue[] UploaderArgs()
        {
            long vFrom = Rules.Velocity is { } v ? Now - (long)v.Span.TotalMilliseconds : 0;
            return
            [
                Request.ContentId, Request.Record ? "1" : "0",
                Rules.Velocity is null ? "" : string.Create(CultureInfo.InvariantCulture, $"({vFrom}"), vFrom, Now, Cap,
                Rules.Velocity is { } ve ? (long)(ve.Span + ExpirySlack).TotalMilliseconds : 0,
                Rules.Strikes is { } s ? (Now - (long)s.Span.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) : "",
                Trim ? "1" : "0",
            ];
        }

        public RedisValue[] BucketArgs() =>
        [
            string.Create(CultureInfo.InvariantCulture, $"({CampaignFrom}"), MaxCandidatesPerBucket, Request.Record ? "1" : "0",
            Request.ContentId, Pair, Now, CampaignFrom, Cap, CampaignExpiry, Trim ? "1" : "0",
        ];
    }

    private async Task<UploaderSignal> CountInOneScriptAsync(Args a)
    {
        var keys = new RedisKey[a.Hash is null ? 2 : 3 + Segments];
        keys[0] = VelocityKey(a.Uploader);
        keys[1] = StrikesKey(a.Uploader);
        RedisValue[] values = a.UploaderArgs();
        if (a.Hash is { } h)
        {
            keys[2] = CampaignFiledKey(a.Uploader);
            for (int i = 0; i < Segments; i++) keys[3 + i] = CampaignPairsKey(i, Segment(h, i));
            values = [.. values, .. a.BucketArgs()];
        }
        var result = (RedisResult[])(await _redis.GetDatabase().ScriptEvaluateAsync(OneScript, keys, values).ConfigureAwait(false))!;
        return Signal(a, (long)result[0], (long)result[1], result.Skip(2).Select(r => (string)r!));
    }

    private async Task<UploaderSignal> CountPerSlotAsync(Args a)
    {
        var batch = _redis.GetDatabase().CreateBatch();
        Task<RedisResult>? counts = a.Counters ? batch.ScriptEvaluateAsync(UploaderScript, [VelocityKey(a.Uploader), StrikesKey(a.Uploader)], a.UploaderArgs()) : null;
        var buckets = new Task<RedisResult>[a.Hash is null ? 0 : Segments];
        if (a.Hash is { } h)
        {
            var values = a.BucketArgs();
            for (int i = 0; i < Segments; i++)
                buckets[i] = batch.ScriptEvaluateAsync(BucketScript, [CampaignKey(i, Segment(h, i)), CampaignPairsKey(i, Segment(h, i))], values);
        }
        batch.Execute();
        long[] both = counts is null ? [-1, -1] : (long[])(await counts.ConfigureAwait(false))!;
        var candidates = new List<string>();
        foreach (var bucket in buckets) candidates.AddRange((string[])(await bucket.ConfigureAwait(false))!);
        return Signal(a, both[0], both[1], candidates);
    }

    /// <summary>The one script's reads and writes as plain commands: the counts, the candidates and whether the upload
    /// is filed in one pipelined round trip; then, for an upload not filed yet, its pair raised in each bucket before it
    /// is filed (a crash between the two leaves it unfiled, so a redelivery raises the pairs again rather than never).</summary>
    private async Task<UploaderSignal> CountPlainAsync(Args a)
    {
        var request = a.Request;
        var rules = a.Rules;
        long now = a.Now;
        var db = _redis.GetDatabase();
        var batch = db.CreateBatch();
        var tasks = new List<Task>();
        Task<long>? velocity = null, strikes = null;
        Task<double?>? ownStrike = null, ownUpload = null, filed = null;
        long strikesFrom = 0;
        if (rules.Velocity is { } v)
        {
            var key = VelocityKey(a.Uploader);
            if (request.Record) tasks.AddRange(Add(batch, key, request.ContentId, now, v.Span, a.Trim));
            else ownUpload = batch.SortedSetScoreAsync(key, request.ContentId);
            velocity = batch.SortedSetLengthAsync(key, now - (long)v.Span.TotalMilliseconds, double.PositiveInfinity, Exclude.Start);
        }
        if (rules.Strikes is { } s)
        {
            var key = StrikesKey(a.Uploader);
            strikesFrom = now - (long)s.Span.TotalMilliseconds;
            strikes = batch.SortedSetLengthAsync(key, strikesFrom, double.PositiveInfinity, Exclude.Start);
            ownStrike = batch.SortedSetScoreAsync(key, request.ContentId);
        }
        var buckets = new Task<RedisValue[]>[a.Hash is null ? 0 : Segments];
        if (a.Hash is { } h)
        {
            for (int i = 0; i < Segments; i++)
                buckets[i] = batch.SortedSetRangeByScoreAsync(CampaignPairsKey(i, Segment(h, i)), a.CampaignFrom, double.PositiveInfinity, Exclude.Start, Order.Descending, 0, MaxCandidatesPerBucket);
            if (request.Record) filed = batch.SortedSetScoreAsync(CampaignFiledKey(a.Uploader), request.ContentId);
        }
        batch.Execute();
        await Task.WhenAll(tasks.Concat(buckets).Concat(new Task?[] { velocity, strikes, ownStrike, ownUpload, filed }.OfType<Task>())).ConfigureAwait(false);

        if (a.Hash is { } mine && filed is { Result: null })
        {
            var window = rules.Campaigns!.Span;
            var second = db.CreateBatch();
            var writes = new List<Task>();
            for (int i = 0; i < Segments; i++)
                writes.AddRange(Add(second, CampaignPairsKey(i, Segment(mine, i)), a.Pair!, now, window, a.Trim, SortedSetWhen.GreaterThan));
            writes.AddRange(Add(second, CampaignFiledKey(a.Uploader), request.ContentId, now, window, a.Trim));
            second.Execute();
            await Task.WhenAll(writes).ConfigureAwait(false);
        }
        // Strikes before this upload: a redelivered upload that was already a strike (in the window) does not count
        // against itself. Velocity: read-only (replay), the upload is counted as if it were added.
        long strikeCount = strikes is null ? -1 : strikes.Result - (ownStrike!.Result is { } own && own > strikesFrom ? 1 : 0);
        long velocityCount = velocity is null ? -1 : velocity.Result + (ownUpload is { Result: null } ? 1 : 0);
        return Signal(a, velocityCount, strikeCount, buckets.SelectMany(b => b.Result).Select(m => (string)m!));
    }

    private static UploaderSignal Signal(Args a, long velocity, long strikes, IEnumerable<string> candidates) => new()
    {
        Velocity = a.Rules.Velocity is null ? null : (int)velocity,
        Strikes = a.Rules.Strikes is null ? null : (int)strikes,
        CampaignUploaders = a.Hash is { } mine ? DistinctUploaders(mine, a.Uploader, a.Rules.Campaigns!.MaxDistance, candidates) : null,
    };

    /// <summary>Distinct uploaders, <paramref name="uploader"/> included, among candidates <c>&lt;hash&gt;|&lt;uploader&gt;</c>
    /// within <paramref name="maxDistance"/> of <paramref name="mine"/>. A candidate whose uploader is already counted is
    /// not parsed.</summary>
    private static int DistinctUploaders(PdqHash mine, string uploader, int maxDistance, IEnumerable<string> candidates)
    {
        var uploaders = new HashSet<string>(StringComparer.Ordinal) { uploader };
        var counted = uploaders.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var candidate in candidates)
        {
            var text = candidate.AsSpan();
            int bar = text.IndexOf('|');
            if (bar < 0) continue;
            var who = text[(bar + 1)..];
            if (who.IsEmpty || counted.Contains(who) || !PdqHash.TryParse(text[..bar], out var other)) continue;
            if (PdqHash.Distance(mine, other) <= maxDistance) counted.Add(who);
        }
        return uploaders.Count;
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
                var writes = Add(batch, state.Self.StrikesKey(state.Uploader), state.ContentId, state.Self._time.GetUtcNow().ToUnixTimeMilliseconds(), state.Window, trim: true);
                batch.Execute();
                await Task.WhenAll(writes).WaitAsync(token).ConfigureAwait(false);
            }, (Self: this, Uploader: uploader, ContentId: contentId, Window: window), ct).ConfigureAwait(false);
        }
        catch (Exception e) when (StoreResilience.IsStoreFailure(e, ct))
        {
            throw new StoreUnavailableException($"Uploader strike not recorded: {e.Message}", e);
        }
    }

    /// <summary>Adds a member (by default once, its first time kept), trims what left the window and what is over the cap
    /// when asked, and lets the key expire with the window.</summary>
    private static List<Task> Add(IBatch batch, string key, string member, long now, TimeSpan window, bool trim, SortedSetWhen when = SortedSetWhen.NotExists)
    {
        var tasks = new List<Task>(4) { batch.SortedSetAddAsync(key, member, now, when) };
        if (trim)
        {
            tasks.Add(batch.SortedSetRemoveRangeByScoreAsync(key, double.NegativeInfinity, now - (long)window.TotalMilliseconds));
            tasks.Add(batch.SortedSetRemoveRangeByRankAsync(key, 0, -MaxMembers - 1));
        }
        tasks.Add(batch.KeyExpireAsync(key, window + ExpirySlack));
        return tasks;
    }

    private static ushort Segment(PdqHash hash, int index) => hash.GetUInt16(index);
}
