using System.Globalization;
using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;
using Polly;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.Uploaders;

/// <summary>How <see cref="RedisUploaderState"/> talks to the server.</summary>
public enum UploaderScripts
{
    /// <summary>One Lua script per upload or batch of uploads; on a Redis Cluster one per slot (<see cref="PerSlot"/>).</summary>
    Auto,

    /// <summary>One script for the uploader's keys and one per campaign bucket: 17 commands, each script's keys in one slot
    /// (each bucket then keeps its own filed content ids: a layout of its own, for a cluster's workers).</summary>
    PerSlot,

    /// <summary>Plain commands, pipelined (two round trips with a campaign rule): for a server without scripting.</summary>
    Off,
}

/// <summary>
/// The uploader and campaign counters every worker shares (the policy's <c>uploaders</c> section), in Redis: one Lua
/// script call per upload or per batch of uploads (<see cref="CountManyAsync"/>, <see cref="UploaderCountBatcher"/>; one
/// script per Redis Cluster slot and upload on a cluster), or plain pipelined commands on a server that refuses scripts
/// (<see cref="UploaderScripts"/>).
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
/// hash tag, so one uploader's keys live in one Redis Cluster slot; so does <c>…:c</c>, the uploader's content ids already
/// filed in the campaign index (a redelivery is found there and raises nothing).</para>
/// <para>Campaigns (one script, and plain commands): a picture's uploaders are one set, <c>{prefix}cp:{p:&lt;hash&gt;}:u</c>,
/// scored by each uploader's newest upload of exactly that picture. To find near pictures the PDQ hash is cut into 16
/// segments of 16 bits; each segment value is a bucket <c>{prefix}cp:{&lt;segment&gt;:&lt;4 hex&gt;}:p</c> of pictures,
/// raised once per <see cref="BucketRefresh"/> (1/16 of the window; <c>…cp:{p:&lt;hash&gt;}:b</c> says when) and read that
/// much further back than the window, so a picture with an upload in the window is always in reach and its uploaders are
/// then counted exactly from its own set. A lookup of the buckets keeps candidates within the rule's distance: any picture
/// within 15 bits shares a whole segment (pigeonhole), so it is always found; at 16–31 bits one is found unless every
/// segment differs (for flips spread at random: ~98% of pairs at 25 bits, ~92% at 31). One script keeps what it found as
/// the picture's near list, <c>…cp:{p:&lt;hash&gt;}:n:&lt;distance&gt;</c>, for one window (on the worker's clock), and a
/// picture looked up later joins the lists of the near pictures it finds: so a copy of a picture (the common cache hit)
/// reads its list and its pictures' uploaders, not 16 buckets, and finds what a lookup of the buckets would (a picture
/// with over <see cref="MaxNearPictures"/> near ones keeps no list; the script reaches the near pictures' keys and the
/// buckets by name, not through KEYS, which one server allows and a cluster, counted per slot, never sees). Plain commands keep no list
/// (a list stays exact only when it is made and joined atomically): they read the buckets every time and drop the lists
/// of the near pictures when they first raise a picture. Per slot (a cluster) the buckets keep <c>&lt;hash&gt;|&lt;uploader&gt;</c> pairs,
/// <c>…cp:{…}:u</c>, raised on every upload, and their own filed content ids, <c>…cp:{…}:c</c>: a layout of its own.</para>
/// </remarks>
public sealed class RedisUploaderState : IUploaderState
{
    /// <summary>Members kept per key: counts saturate near here (policies count far fewer), memory stays bounded.</summary>
    public const int MaxMembers = PolicyCountRule.MaxReviewAt;

    /// <summary>Campaign candidates read per bucket (pictures; pairs on a cluster) and uploaders read per picture, newest
    /// first.</summary>
    public const int MaxCandidatesPerBucket = 256;

    /// <summary>Near pictures a picture's list keeps; a picture with more is looked up in its 16 buckets every time.</summary>
    public const int MaxNearPictures = 256;

    /// <summary>A write trims its key on one write in this many on average.</summary>
    public const int TrimEvery = 8;

    private const int Segments = 16;

    // The uploader's part of one count, its keys from KEYS[k + 1] and ARGV from a + 1: +1 content id, +2 record (1/0),
    // +3 velocity's exclusive window start "(ms" (empty: no velocity rule), +4 velocity's trim bound (ms, inclusive), +5 now
    // (ms), +6 the cap's rank (-MaxMembers-1), +7 velocity's expiry (ms), +8 strikes' exclusive window start (ms; empty: no
    // strikes rule), +9 trim (1/0). KEYS[k + 1] velocity, KEYS[k + 2] strikes. A strike of this very content does not count
    // against it; a read without recording counts the upload as if it were added. Returns velocity, strikes (-1: no rule).
    private const string UploaderPart = """
        local function counts(k, a)
          local velocity, strikes = -1, -1
          if ARGV[a + 3] ~= '' then
            local key = KEYS[k + 1]
            if ARGV[a + 2] == '1' then
              if redis.call('ZADD', key, 'NX', ARGV[a + 5], ARGV[a + 1]) == 1 and ARGV[a + 9] == '1' then
                redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[a + 4])
                redis.call('ZREMRANGEBYRANK', key, 0, ARGV[a + 6])
              end
              redis.call('PEXPIRE', key, ARGV[a + 7])
              velocity = redis.call('ZCOUNT', key, ARGV[a + 3], '+inf')
            else
              velocity = redis.call('ZCOUNT', key, ARGV[a + 3], '+inf')
              if not redis.call('ZSCORE', key, ARGV[a + 1]) then velocity = velocity + 1 end
            end
          end
          if ARGV[a + 8] ~= '' then
            local key = KEYS[k + 2]
            strikes = redis.call('ZCOUNT', key, '(' .. ARGV[a + 8], '+inf')
            if strikes > 0 then
              local own = redis.call('ZSCORE', key, ARGV[a + 1])
              if own and tonumber(own) > tonumber(ARGV[a + 8]) then strikes = strikes - 1 end
            end
          end
          return velocity, strikes
        end

        """;

    // Campaign ARGV from a: +0 the window's exclusive start "(ms", +1 candidates to read per bucket, +2 record (1/0),
    // +3 content id, +4 the pair "<hash>|<uploader>" (per slot; the uploader in one script), +5 now (ms), +6 trim bound
    // (ms, inclusive), +7 the cap's rank, +8 expiry (ms), +9 trim (1/0). keep: trims k (when asked) and sets its expiry.
    // raise: raises member of k to now, then keeps k. file: files the content id in ck, true when it was not filed yet (a
    // new upload, not a redelivery).
    private const string FileFunction = """
        local function keep(k, a)
          if ARGV[a + 9] == '1' then
            redis.call('ZREMRANGEBYSCORE', k, '-inf', ARGV[a + 6])
            redis.call('ZREMRANGEBYRANK', k, 0, ARGV[a + 7])
          end
          redis.call('PEXPIRE', k, ARGV[a + 8])
        end
        local function raise(k, member, a)
          redis.call('ZADD', k, 'GT', ARGV[a + 5], member)
          keep(k, a)
        end
        local function file(ck, a)
          if ARGV[a + 2] ~= '1' or redis.call('ZADD', ck, 'NX', ARGV[a + 5], ARGV[a + 3]) == 0 then return false end
          keep(ck, a)
          return true
        end

        """;

    // Per slot: reads the pairs of uk in the window, then, for a fresh upload, raises its pair to now.
    private const string BucketFunction = """
        local function bucket(uk, a, fresh)
          local found = redis.call('ZREVRANGEBYSCORE', uk, '+inf', ARGV[a], 'LIMIT', 0, ARGV[a + 1])
          if fresh then raise(uk, ARGV[a + 4], a) end
          return found
        end

        """;

    // The picture index of one script (and of plain commands), from ARGV a (10 after the uploader's part): +0 the window's
    // exclusive start "(ms", +1 uploaders to read per picture, +2 record (1/0), +3 content id, +4 uploader, +5 now (ms), +6 trim bound (ms,
    // inclusive), +7 the cap's rank, +8 expiry (ms), +9 trim (1/0), +10 the picture (64 hex), +11 the buckets' exclusive
    // start "(ms" (window + refresh), +12 the buckets' trim bound, +13 the buckets' expiry (ms), +14 refresh (ms), +15 the
    // rule's max distance, +16 the key prefix, +17 the most near pictures a list keeps. From the count's key base k:
    // KEYS[k + 4] the picture's uploaders, KEYS[k + 5] its near list for this distance, KEYS[k + 6] when its buckets were
    // last raised. Its 16 buckets are named here (bucketKey: segment s is hex digits 60 - 4s .. 63 - 4s of the picture,
    // as PdqHash.GetUInt16 reads it), not passed: a copy of a picture never reads them.
    // near: the pictures to count (this one first). A list kept from an earlier scan is used while younger than the window
    // (its own member's score is when it was made); else the 16 buckets are read, each picture within the distance is
    // linked into the lists that already exist of the pictures it found, and the list is kept (unless too long or a read
    // that records nothing). count: distinct uploaders of those pictures in the window, this one's counted as if added;
    // a picture with no near one (the common copy) counts its uploaders with ZCOUNT and looks for this one with ZSCORE
    // rather than reading them all (the same answer: the set holds each uploader once).
    private const string PictureFunctions = """
        local HEX, POP
        local function tables()
          HEX, POP = {}, {}
          for i = 0, 15 do
            HEX[string.byte(string.format('%x', i))] = i
            HEX[string.byte(string.format('%X', i))] = i
          end
          for i = 0, 15 do
            for j = 0, 15 do
              local c, x, y = 0, i, j
              for _ = 1, 4 do
                if x % 2 ~= y % 2 then c = c + 1 end
                x, y = math.floor(x / 2), math.floor(y / 2)
              end
              POP[i * 16 + j] = c
            end
          end
        end
        local function distance(x, y, limit)
          if not POP then tables() end
          local d = 0
          for p = 1, 64 do
            d = d + POP[HEX[string.byte(x, p)] * 16 + HEX[string.byte(y, p)]]
            if d > limit then return d end
          end
          return d
        end
        local function pictureKey(a, picture, suffix)
          return ARGV[a + 16] .. 'cp:{p:' .. picture .. '}:' .. suffix
        end
        local function bucketKey(a, s)
          local from = 61 - 4 * s
          return ARGV[a + 16] .. 'cp:{' .. string.format('%x', s) .. ':' .. string.sub(ARGV[a + 10], from, from + 3) .. '}:p'
        end
        local function record(k, a, fresh)
          if not fresh then return end
          raise(KEYS[k + 4], ARGV[a + 4], a)
          local raised = redis.call('GET', KEYS[k + 6])
          if raised and tonumber(raised) > tonumber(ARGV[a + 5]) - tonumber(ARGV[a + 14]) then return end
          for s = 0, 15 do
            local b = bucketKey(a, s)
            redis.call('ZADD', b, 'GT', ARGV[a + 5], ARGV[a + 10])
            if ARGV[a + 9] == '1' then
              redis.call('ZREMRANGEBYSCORE', b, '-inf', ARGV[a + 12])
              redis.call('ZREMRANGEBYRANK', b, 0, ARGV[a + 7])
            end
            redis.call('PEXPIRE', b, ARGV[a + 13])
          end
          redis.call('SET', KEYS[k + 6], ARGV[a + 5], 'PX', ARGV[a + 13])
        end
        local function near(k, a)
          local me, now, limit, most = ARGV[a + 10], tonumber(ARGV[a + 5]), tonumber(ARGV[a + 15]), tonumber(ARGV[a + 17])
          local kept, made, pictures = redis.call('ZRANGE', KEYS[k + 5], 0, -1, 'WITHSCORES'), nil, {}
          for i = 1, #kept, 2 do
            pictures[#pictures + 1] = kept[i]
            if kept[i] == me then made = tonumber(kept[i + 1]) end
          end
          if made and made > tonumber(ARGV[a + 6]) then return pictures end
          local list, seen = {me}, {[me] = true}
          for s = 0, 15 do
            local found = redis.call('ZREVRANGEBYSCORE', bucketKey(a, s), '+inf', ARGV[a + 11], 'LIMIT', 0, ARGV[a + 1])
            for i = 1, #found do
              local other = found[i]
              if not seen[other] then
                seen[other] = true
                if distance(me, other, limit) <= limit then list[#list + 1] = other end
              end
            end
          end
          if ARGV[a + 2] ~= '1' then return list end
          for i = 2, #list do
            local theirs = pictureKey(a, list[i], 'n:' .. ARGV[a + 15])
            local size = redis.call('ZCARD', theirs)
            if size > most then redis.call('DEL', theirs)
            elseif size > 0 then redis.call('ZADD', theirs, 'NX', ARGV[a + 5], me) end
          end
          redis.call('DEL', KEYS[k + 5])
          if #list <= most + 1 then
            for i = 1, #list do redis.call('ZADD', KEYS[k + 5], ARGV[a + 5], list[i]) end
            redis.call('PEXPIRE', KEYS[k + 5], ARGV[a + 8])
          end
          return list
        end
        local function count(k, a, pictures)
          if #pictures == 1 and pictures[1] == ARGV[a + 10] then
            local c = redis.call('ZCOUNT', KEYS[k + 4], ARGV[a], '+inf')
            if c <= tonumber(ARGV[a + 1]) then
              local mine = redis.call('ZSCORE', KEYS[k + 4], ARGV[a + 4])
              if mine and tonumber(mine) > tonumber(ARGV[a + 6]) then return c end
              return c + 1
            end
          end
          local seen, n = {[ARGV[a + 4]] = true}, 1
          for i = 1, #pictures do
            local key = pictures[i] == ARGV[a + 10] and KEYS[k + 4] or pictureKey(a, pictures[i], 'u')
            local found = redis.call('ZREVRANGEBYSCORE', key, '+inf', ARGV[a], 'LIMIT', 0, ARGV[a + 1])
            for j = 1, #found do
              if not seen[found[j]] then
                seen[found[j]] = true
                n = n + 1
              end
            end
          end
          return n
        end

        """;

    /// <summary>Counts one or more uploads in order, each as if alone. Per count, KEYS: velocity, strikes, then (campaigns)
    /// the uploader's filed content ids, the picture's uploaders, near list and last raise (2 or 6; its buckets by name);
    /// ARGV: the number of its keys, the uploader's part (9), the picture's (18, with campaigns). Returns one {velocity,
    /// strikes, distinct uploaders} per count, -1 where not counted.</summary>
    private const string OneScript = FileFunction + PictureFunctions + UploaderPart + """
        local out, k, a = {}, 0, 0
        while a < #ARGV do
          local n = tonumber(ARGV[a + 1])
          a = a + 1
          local velocity, strikes = counts(k, a)
          local r = {velocity, strikes}
          if n > 2 then
            local p = a + 10
            record(k, p, file(KEYS[k + 3], p))
            r[3] = count(k, p, near(k, p))
            a = a + 18
          end
          out[#out + 1] = r
          k = k + n
          a = a + 9
        end
        return out
        """;

    private const string UploaderScript = UploaderPart + "return {counts(0, 0)}";

    /// <summary>One bucket in its own slot (<see cref="UploaderScripts.PerSlot"/>): its own filed content ids decide.</summary>
    private const string BucketScript = FileFunction + BucketFunction + "return bucket(KEYS[2], 1, file(KEYS[1], 1))";

    private static readonly TimeSpan ExpirySlack = TimeSpan.FromSeconds(1);
    private static readonly string Cap = (-MaxMembers - 1).ToString(CultureInfo.InvariantCulture);

    private readonly IConnectionMultiplexer _redis;
    private readonly string _prefix;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline _pipeline;
    private volatile UploaderScripts _scripts;
    private volatile bool _clusterChecked;

    /// <param name="scripts">How to talk to the server; <see cref="UploaderScripts.Auto"/> picks one script per upload or batch, one
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

    /// <summary>A campaign bucket's (picture, uploader) pairs (<see cref="UploaderScripts.PerSlot"/>).</summary>
    public string CampaignPairsKey(int segment, ushort value) => $"{_prefix}cp:{{{segment:x}:{value:x4}}}:u";

    /// <summary>A campaign bucket's pictures (one script and plain commands), each scored by when its buckets were last
    /// raised (at most <see cref="BucketRefresh"/> before its newest upload).</summary>
    public string CampaignBucketKey(int segment, ushort value) => $"{_prefix}cp:{{{segment:x}:{value:x4}}}:p";

    /// <summary>A picture's uploaders, each scored by its newest upload of exactly this picture.</summary>
    public string CampaignPictureKey(string picture) => $"{_prefix}cp:{{p:{picture}}}:u";

    /// <summary>A picture's near pictures within <paramref name="maxDistance"/> (itself included, scored by when the list
    /// was made): an upload of a picture that has one reads these pictures' uploaders instead of its 16 buckets.</summary>
    public string CampaignNearKey(string picture, int maxDistance) => $"{_prefix}cp:{{p:{picture}}}:n:{maxDistance.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>When the picture's 16 bucket entries were last raised (the worker's clock, ms).</summary>
    public string CampaignRaisedKey(string picture) => $"{_prefix}cp:{{p:{picture}}}:b";

    /// <summary>A picture's bucket entries are raised once per this share of the window, not on every upload: lookups read
    /// the buckets this much further back, then count uploaders from the pictures' own exact sets.</summary>
    public static TimeSpan BucketRefresh(TimeSpan window) => TimeSpan.FromMilliseconds(Math.Max(1, (long)window.TotalMilliseconds / 16));

    /// <summary>True while counts go as one script (one server): <see cref="CountManyAsync"/> then sends a batch in one call.
    /// False on a cluster (a script per slot) and without scripts: each count is its own call, so a batcher does not hold
    /// them.</summary>
    public bool CountsInBatches => _scripts == UploaderScripts.Auto;

    public async Task<UploaderSignal> CountAsync(UploaderCount request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        return (await CountManyAsync([request], ct).ConfigureAwait(false))[0];
    }

    /// <summary>Counts the uploads in order, each as if counted alone after the ones before it: in one script call on one
    /// server (one round trip, one pass through the resilience pipeline for all); on a cluster or without scripts one
    /// after the other, as <see cref="CountAsync"/> would. The call fails as a whole.</summary>
    /// <exception cref="StoreUnavailableException">The store could not be reached or answered too late: no upload of the
    /// batch has an answer.</exception>
    public async Task<IReadOnlyList<UploaderSignal>> CountManyAsync(IReadOnlyList<UploaderCount> requests, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var signals = new UploaderSignal[requests.Count];
        var counted = new List<Counted>(requests.Count);
        for (int i = 0; i < requests.Count; i++)
        {
            var request = requests[i] ?? throw new ArgumentException("A request is null.", nameof(requests));
            var rules = request.Rules;
            var uploader = request.UploaderId;
            PdqHash? hash = rules.Campaigns is not null && uploader is not null && PdqHash.TryParse(request.PdqHex, out var parsed) ? parsed : null;
            if (uploader is null || (rules.Strikes is null && rules.Velocity is null && hash is null)) signals[i] = UploaderSignal.NotCounted;
            else counted.Add(new Counted(i, request, uploader, hash));
        }
        if (counted.Count == 0) return signals;
        try
        {
            var results = await _pipeline.ExecuteAsync(static async (state, token) => await state.Self.CountOnceAsync(state.Counted).WaitAsync(token).ConfigureAwait(false),
                (Self: this, Counted: counted), ct).ConfigureAwait(false);
            for (int i = 0; i < counted.Count; i++) signals[counted[i].Index] = results[i];
            return signals;
        }
        catch (Exception e) when (StoreResilience.IsStoreFailure(e, ct))
        {
            throw new StoreUnavailableException($"Uploader counters unavailable: {e.Message}", e);
        }
    }

    private sealed record Counted(int Index, UploaderCount Request, string Uploader, PdqHash? Hash);

    private async Task<UploaderSignal[]> CountOnceAsync(List<Counted> counted)
    {
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var args = counted.Select(c => new Args(c.Request, c.Uploader, c.Hash, now, Random.Shared.Next(TrimEvery) == 0)).ToArray();
        if (_scripts == UploaderScripts.Auto && !_clusterChecked)
        {
            if (_redis.GetServers().Any(s => s.ServerType == ServerType.Cluster)) _scripts = UploaderScripts.PerSlot;
            _clusterChecked = _redis.IsConnected;
        }
        if (_scripts != UploaderScripts.Off)
        {
            try
            {
                return _scripts == UploaderScripts.Auto ? await CountInOneScriptAsync(args).ConfigureAwait(false) : await EachAsync(args, CountPerSlotAsync).ConfigureAwait(false);
            }
            catch (RedisException e) when (_scripts == UploaderScripts.Auto && e.Message.Contains("slot", StringComparison.OrdinalIgnoreCase))
            {
                // A cluster seen only now (CROSSSLOT): nothing of the script ran.
                _scripts = UploaderScripts.PerSlot;
                return await EachAsync(args, CountPerSlotAsync).ConfigureAwait(false);
            }
            catch (RedisServerException e) when (RefusesScripts(e))
            {
                // Every write is idempotent (ZADD NX keyed by content id, a pair raised only for a content id not filed
                // yet), so counting again below is exact even where some scripts ran.
                ScriptsRefused = e.Message;
                _scripts = UploaderScripts.Off;
            }
        }
        return await EachAsync(args, CountPlainAsync).ConfigureAwait(false);
    }

    /// <summary>One count after the other (each sees the ones before it, as one script does).</summary>
    private static async Task<UploaderSignal[]> EachAsync(Args[] args, Func<Args, Task<UploaderSignal>> count)
    {
        var signals = new UploaderSignal[args.Length];
        for (int i = 0; i < args.Length; i++) signals[i] = await count(args[i]).ConfigureAwait(false);
        return signals;
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
                Picture = h.ToString();
                CampaignFrom = now - (long)c.Span.TotalMilliseconds;
                CampaignExpiry = (long)(c.Span + ExpirySlack).TotalMilliseconds;
                Refresh = (long)BucketRefresh(c.Span).TotalMilliseconds;
                BucketsFrom = CampaignFrom - Refresh;
                BucketExpiry = CampaignExpiry + Refresh;
            }
            Counters = rules.Velocity is not null || rules.Strikes is not null;
        }

        public UploaderCount Request { get; }
        public string Uploader { get; }
        public long Now { get; }
        public bool Trim { get; }
        public bool Counters { get; }
        public PdqHash? Hash { get; }
        public string? Picture { get; }
        public string? Pair => Picture is null ? null : $"{Picture}|{Uploader}";
        public long CampaignFrom { get; }
        public long Refresh { get; }
        public long BucketsFrom { get; }
        public long BucketExpiry { get; }
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

        public RedisValue[] PictureArgs(string prefix) =>
        [
            string.Create(CultureInfo.InvariantCulture, $"({CampaignFrom}"), MaxCandidatesPerBucket, Request.Record ? "1" : "0",
            Request.ContentId, Uploader, Now, CampaignFrom, Cap, CampaignExpiry, Trim ? "1" : "0",
            Picture, string.Create(CultureInfo.InvariantCulture, $"({BucketsFrom}"), BucketsFrom, BucketExpiry, Refresh,
            Rules.Campaigns!.MaxDistance, prefix, MaxNearPictures,
        ];

        public RedisValue[] BucketArgs() =>
        [
            string.Create(CultureInfo.InvariantCulture, $"({CampaignFrom}"), MaxCandidatesPerBucket, Request.Record ? "1" : "0",
            Request.ContentId, Pair, Now, CampaignFrom, Cap, CampaignExpiry, Trim ? "1" : "0",
        ];
    }

    private async Task<UploaderSignal[]> CountInOneScriptAsync(Args[] all)
    {
        var keys = new List<RedisKey>(all.Length * 6);
        var values = new List<RedisValue>(all.Length * 28);
        foreach (var a in all)
        {
            int first = keys.Count;
            keys.Add(VelocityKey(a.Uploader));
            keys.Add(StrikesKey(a.Uploader));
            if (a.Hash is not null)
            {
                keys.Add(CampaignFiledKey(a.Uploader));
                keys.Add(CampaignPictureKey(a.Picture!));
                keys.Add(CampaignNearKey(a.Picture!, a.Rules.Campaigns!.MaxDistance));
                keys.Add(CampaignRaisedKey(a.Picture!));
            }
            values.Add(keys.Count - first);
            values.AddRange(a.UploaderArgs());
            if (a.Hash is not null) values.AddRange(a.PictureArgs(_prefix));
        }
        var results = (RedisResult[])(await _redis.GetDatabase().ScriptEvaluateAsync(OneScript, [.. keys], [.. values]).ConfigureAwait(false))!;
        if (results.Length != all.Length) throw new RedisException($"The uploader script answered {results.Length} counts for {all.Length}.");
        var signals = new UploaderSignal[all.Length];
        for (int i = 0; i < all.Length; i++)
        {
            var result = (RedisResult[])results[i]!;
            signals[i] = Signal(all[i], (long)result[0], (long)result[1], all[i].Hash is null ? null : (int)(long)result[2]);
        }
        return signals;
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

    /// <summary>The one script's reads and writes as plain commands, in two pipelined round trips: the counts, the
    /// pictures in this one's 16 buckets and whether the upload is filed; then, for an upload not filed yet, its uploader
    /// raised on the picture (and, once per <see cref="BucketRefresh"/>, the picture in its buckets, and the near lists of
    /// the pictures it found dropped, since they do not know it) before it is filed (a crash between the two leaves it
    /// unfiled, so a redelivery raises it again rather than never), and the near pictures' uploaders read. Plain commands
    /// keep no near lists (a list made in one script is what keeps it exact): they read the 16 buckets every time.</summary>
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
        Task<RedisValue>? raised = null;
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
                buckets[i] = batch.SortedSetRangeByScoreAsync(CampaignBucketKey(i, Segment(h, i)), a.BucketsFrom, double.PositiveInfinity, Exclude.Start, Order.Descending, 0, MaxCandidatesPerBucket);
            if (request.Record)
            {
                filed = batch.SortedSetScoreAsync(CampaignFiledKey(a.Uploader), request.ContentId);
                raised = batch.StringGetAsync(CampaignRaisedKey(a.Picture!));
            }
        }
        batch.Execute();
        await Task.WhenAll(tasks.Concat(buckets).Concat(new Task?[] { velocity, strikes, ownStrike, ownUpload, filed, raised }.OfType<Task>())).ConfigureAwait(false);

        int? campaign = null;
        if (a.Hash is { } mine)
        {
            var rule = rules.Campaigns!;
            var pictures = new List<string> { a.Picture! };
            var seen = new HashSet<string>(StringComparer.Ordinal) { a.Picture! };
            foreach (var found in buckets.SelectMany(b => b.Result))
            {
                string other = found!;
                if (seen.Add(other) && PdqHash.TryParse(other, out var hash) && PdqHash.Distance(mine, hash) <= rule.MaxDistance) pictures.Add(other);
            }
            var second = db.CreateBatch();
            var writes = new List<Task>();
            if (filed is { Result: null })
            {
                writes.AddRange(Add(second, CampaignPictureKey(a.Picture!), a.Uploader, now, rule.Span, a.Trim, SortedSetWhen.GreaterThan));
                if (!(raised!.Result is { IsNull: false } last && (long)last > now - a.Refresh))
                {
                    var span = rule.Span + TimeSpan.FromMilliseconds(a.Refresh);
                    for (int i = 0; i < Segments; i++)
                        writes.AddRange(Add(second, CampaignBucketKey(i, Segment(mine, i)), a.Picture!, now, span, a.Trim, SortedSetWhen.GreaterThan));
                    writes.Add(second.StringSetAsync(CampaignRaisedKey(a.Picture!), now, span + ExpirySlack));
                    foreach (var other in pictures.Skip(1)) writes.Add(second.KeyDeleteAsync(CampaignNearKey(other, rule.MaxDistance)));
                }
                writes.AddRange(Add(second, CampaignFiledKey(a.Uploader), request.ContentId, now, rule.Span, a.Trim));
            }
            var uploaders = pictures.Select(p => second.SortedSetRangeByScoreAsync(CampaignPictureKey(p), a.CampaignFrom, double.PositiveInfinity, Exclude.Start, Order.Descending, 0, MaxCandidatesPerBucket)).ToArray();
            second.Execute();
            await Task.WhenAll(writes.Concat(uploaders)).ConfigureAwait(false);
            var distinct = new HashSet<string>(StringComparer.Ordinal) { a.Uploader };
            foreach (var uploader in uploaders.SelectMany(u => u.Result)) distinct.Add(uploader!);
            campaign = distinct.Count;
        }
        // Strikes before this upload: a redelivered upload that was already a strike (in the window) does not count
        // against itself. Velocity: read-only (replay), the upload is counted as if it were added.
        long strikeCount = strikes is null ? -1 : strikes.Result - (ownStrike!.Result is { } own && own > strikesFrom ? 1 : 0);
        long velocityCount = velocity is null ? -1 : velocity.Result + (ownUpload is { Result: null } ? 1 : 0);
        return Signal(a, velocityCount, strikeCount, campaign);
    }

    private static UploaderSignal Signal(Args a, long velocity, long strikes, int? campaignUploaders) => new()
    {
        Velocity = a.Rules.Velocity is null ? null : (int)velocity,
        Strikes = a.Rules.Strikes is null ? null : (int)strikes,
        CampaignUploaders = a.Hash is null ? null : campaignUploaders,
    };

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
