using System.Text.Json;
using System.Text.Json.Serialization;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;
using StackExchange.Redis;

namespace Moderation.Streams.Redis;

/// <summary>
/// <see cref="IDecisionCache"/> over StackExchange.Redis, behind a Polly pipeline (retry with exponential
/// backoff and jitter → circuit breaker → per-attempt timeout) so that an unavailable store costs a quick
/// <see cref="StoreUnavailableException"/>, never a hang.
/// </summary>
/// <remarks>
/// <para>Key layout: <c>{KeyPrefix}dc:{&lt;hash&gt;}:&lt;policy&gt;|&lt;model&gt;</c>, e.g.
/// <c>moderation:dc:{3f0a…e1}:2026-11-25.1|nsfw-mobilenet-v2@1</c>; the hash is 64 lower-case hex digits.</para>
/// <para>One decision is one key, so it always lives in one Redis Cluster slot. The hash tag is the PDQ
/// hash, not the versions: hashes are uniformly distributed, so keys spread evenly over the slots, whereas a
/// tag of <c>{policy|model}</c> would put every decision of the live policy into a single slot (one hot
/// shard). The tag keeps all versions of one hash together, should an operation ever need them at once.</para>
/// <para>Value: a JSON string <c>{"action":…,"decided_at":…,"decision":…}</c> written with one
/// <c>SET key value PX ttl</c>, so the value and its expiry are atomic. An entry that cannot be read back
/// (written by an incompatible version) counts as a miss and is overwritten by the next decision.</para>
/// </remarks>
public sealed partial class RedisDecisionCache : IDecisionCache
{
    private readonly IConnectionMultiplexer _redis;
    private readonly RedisCacheOptions _options;
    private readonly ResiliencePipeline _pipeline;
    private readonly string _keyStart;
    private long _hits;
    private long _misses;
    private long _errors;

    public RedisDecisionCache(IConnectionMultiplexer redis, RedisCacheOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _redis = redis;
        _options = options;
        _keyStart = options.KeyPrefix + "dc:{";
        _pipeline = BuildPipeline(options, timeProvider ?? TimeProvider.System);
    }

    /// <summary>Lookups that found a decision.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Lookups that found nothing usable.</summary>
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>Lookups and writes that ended in <see cref="StoreUnavailableException"/>.</summary>
    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>The Redis key of <paramref name="key"/> under the layout described on this type.</summary>
    /// <exception cref="ArgumentException">The hash is not 64 hex digits, or a version is empty or the policy contains '|'.</exception>
    public string KeyFor(DecisionCacheKey key)
    {
        var hash = key.PdqHashHex;
        if (hash is null || hash.Length != 64 || !IsHex(hash))
        {
            throw new ArgumentException("PdqHashHex must be 64 hex digits.", nameof(key));
        }

        ArgumentException.ThrowIfNullOrEmpty(key.PolicyVersion, nameof(key));
        ArgumentException.ThrowIfNullOrEmpty(key.ModelVersion, nameof(key));
        if (key.PolicyVersion.Contains('|'))
        {
            // '|' separates the versions; allowing it in the policy would let two keys collide.
            throw new ArgumentException("PolicyVersion must not contain '|'.", nameof(key));
        }

        return string.Concat(_keyStart, hash.ToLowerInvariant(), "}:", key.PolicyVersion, "|", key.ModelVersion);
    }

    public async Task<CachedDecision?> TryGetAsync(DecisionCacheKey key, CancellationToken ct)
    {
        RedisKey redisKey = KeyFor(key);
        RedisValue value;
        try
        {
            value = await _pipeline.ExecuteAsync(
                static (state, token) => new ValueTask<RedisValue>(
                    state.Db.StringGetAsync(state.Key).WaitAsync(token)),
                (Db: _redis.GetDatabase(), Key: redisKey),
                ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (StoreResilience.IsStoreFailure(ex, ct))
        {
            Interlocked.Increment(ref _errors);
            RedisTelemetry.Lookups.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.ResultTag, "error"));
            throw Unavailable("read", ex);
        }

        var decision = value.IsNull ? null : Decode(value);
        if (decision is null)
        {
            Interlocked.Increment(ref _misses);
            RedisTelemetry.Lookups.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.ResultTag, "miss"));
        }
        else
        {
            Interlocked.Increment(ref _hits);
            RedisTelemetry.Lookups.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.ResultTag, "hit"));
        }

        return decision;
    }

    public async Task SetAsync(DecisionCacheKey key, CachedDecision decision, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(decision);
        RedisKey redisKey = KeyFor(key);
        RedisValue value = JsonSerializer.SerializeToUtf8Bytes(
            new StoredDecision(decision.Action, decision.DecidedAt, decision.DecisionJson), StoredDecisionJson.Default.StoredDecision);
        try
        {
            await _pipeline.ExecuteAsync(
                static async (state, token) =>
                    await state.Db.StringSetAsync(state.Key, state.Value, state.Ttl).WaitAsync(token).ConfigureAwait(false),
                (Db: _redis.GetDatabase(), Key: redisKey, Value: value, Ttl: _options.Ttl),
                ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (StoreResilience.IsStoreFailure(ex, ct))
        {
            Interlocked.Increment(ref _errors);
            RedisTelemetry.Writes.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.ResultTag, "error"));
            throw Unavailable("write", ex);
        }

        RedisTelemetry.Writes.Add(1, new KeyValuePair<string, object?>(RedisTelemetry.ResultTag, "ok"));
    }

    private static ResiliencePipeline BuildPipeline(RedisCacheOptions options, TimeProvider timeProvider) =>
        StoreResilience.Build(
            new PredicateBuilder()
                .Handle<RedisConnectionException>()
                .Handle<TimeoutException>() // RedisTimeoutException is one
                .Handle<TimeoutRejectedException>(),
            options.RetryAttempts, options.RetryBaseDelay, options.BreakerFailureRatio, options.BreakerMinimumThroughput,
            options.BreakerSamplingDuration, options.BreakerBreakDuration, timeProvider, options.OperationTimeout);

    private static StoreUnavailableException Unavailable(string operation, Exception ex) => ex switch
    {
        BrokenCircuitException => new StoreUnavailableException(
            $"Decision cache {operation} refused: the circuit to the store is open after repeated failures.", ex),
        _ => new StoreUnavailableException($"Decision cache {operation} failed: {ex.Message}", ex),
    };

    private static CachedDecision? Decode(RedisValue value)
    {
        try
        {
            var stored = JsonSerializer.Deserialize((byte[])value!, StoredDecisionJson.Default.StoredDecision);
            return stored is { Action: not null, Decision: not null }
                ? new CachedDecision(stored.Action, stored.Decision, stored.DecidedAt)
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static bool IsHex(string s)
    {
        foreach (var c in s)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    internal sealed record StoredDecision(
        [property: JsonPropertyName("action")] string Action,
        [property: JsonPropertyName("decided_at")] DateTimeOffset DecidedAt,
        [property: JsonPropertyName("decision")] string Decision);

    [JsonSerializable(typeof(StoredDecision))]
    internal sealed partial class StoredDecisionJson : JsonSerializerContext;
}
