using Moderation.Streams.Redis.Tests.Servers;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.Tests;

/// <summary>The decision-cache contract, run against every Redis-protocol server we support.</summary>
public abstract class DecisionCacheContract(IStoreFixture store)
{
    private const string Policy = "2026-11-25.1";
    private const string Model = "nsfw-mobilenet-v2@1";

    // Each test writes under its own prefix, so tests sharing one server never see each other's keys.
    private readonly string _prefix = $"t-{Guid.NewGuid():N}:";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private IDatabase Db => store.Redis.GetDatabase();

    [Fact]
    public async Task A_stored_decision_is_read_back_unchanged()
    {
        var cache = NewCache();
        var key = Key(1);
        var decision = new CachedDecision(
            "takedown",
            """{"content_id":"c-1","action":"takedown","reasons":["porn ≥ 0.92"],"note":"quote \" and \\ and ünïcode"}""",
            new DateTimeOffset(2026, 11, 25, 10, 0, 0, 120, TimeSpan.FromHours(2)));

        await cache.SetAsync(key, decision, Ct);

        Assert.Equal(decision, await cache.TryGetAsync(key, Ct));
    }

    [Fact]
    public async Task An_unknown_hash_is_a_miss()
    {
        var cache = NewCache();
        await cache.SetAsync(Key(1), Decision("allow"), Ct);

        Assert.Null(await cache.TryGetAsync(Key(2), Ct));
    }

    [Fact]
    public async Task Every_decision_is_stored_with_the_configured_ttl()
    {
        var ttl = TimeSpan.FromMinutes(90);
        var cache = NewCache(ttl);
        var key = Key(3);

        await cache.SetAsync(key, Decision("review"), Ct);

        var remaining = await Db.KeyTimeToLiveAsync(cache.KeyFor(key));
        Assert.NotNull(remaining);
        Assert.InRange(remaining.Value, ttl - TimeSpan.FromMinutes(1), ttl);
    }

    [Fact]
    public async Task A_new_policy_version_never_reads_a_stale_decision()
    {
        var cache = NewCache();
        var old = Key(4);
        await cache.SetAsync(old, Decision("allow"), Ct);

        Assert.Null(await cache.TryGetAsync(old with { PolicyVersion = "2026-12-01.1" }, Ct));
        Assert.NotNull(await cache.TryGetAsync(old, Ct));
    }

    [Fact]
    public async Task A_new_model_version_never_reads_a_stale_decision()
    {
        var cache = NewCache();
        var old = Key(5);
        await cache.SetAsync(old, Decision("allow"), Ct);

        Assert.Null(await cache.TryGetAsync(old with { ModelVersion = "nsfw-mobilenet-v2@2" }, Ct));
        Assert.NotNull(await cache.TryGetAsync(old, Ct));
    }

    [Fact]
    public async Task A_policy_version_containing_the_separator_is_rejected_so_keys_cannot_collide()
    {
        var cache = NewCache();
        var key = new DecisionCacheKey(Hash(6), "p", "m|x");
        await cache.SetAsync(key, Decision("takedown"), Ct);

        Assert.NotNull(await cache.TryGetAsync(key, Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => cache.TryGetAsync(new DecisionCacheKey(Hash(6), "p|m", "x"), Ct));
    }

    [Fact]
    public async Task A_later_decision_overwrites_the_earlier_one_and_renews_its_ttl()
    {
        var shortLived = NewCache(TimeSpan.FromMinutes(10));
        var longLived = NewCache(TimeSpan.FromHours(5));
        var key = Key(7);
        await shortLived.SetAsync(key, Decision("review"), Ct);

        var later = Decision("takedown");
        await longLived.SetAsync(key, later, Ct);

        Assert.Equal(later, await shortLived.TryGetAsync(key, Ct));
        var remaining = await Db.KeyTimeToLiveAsync(longLived.KeyFor(key));
        Assert.NotNull(remaining);
        Assert.True(remaining > TimeSpan.FromHours(4), $"TTL {remaining} was not renewed by the overwrite");
    }

    [Fact]
    public async Task Concurrent_writers_of_many_hashes_all_land()
    {
        var cache = NewCache();
        var keys = Enumerable.Range(100, 200).Select(Key).ToArray();

        await Task.WhenAll(keys.Select(k => cache.SetAsync(k, Decision("allow", k.PdqHashHex), Ct)));

        var read = await Task.WhenAll(keys.Select(k => cache.TryGetAsync(k, Ct)));
        for (var i = 0; i < keys.Length; i++)
        {
            Assert.Equal(Decision("allow", keys[i].PdqHashHex), read[i]);
        }
    }

    [Fact]
    public async Task Concurrent_writers_of_one_hash_leave_exactly_one_complete_decision()
    {
        var cache = NewCache();
        var key = Key(8);
        var decisions = Enumerable.Range(0, 64).Select(i => Decision(i % 2 == 0 ? "review" : "takedown", $"writer-{i}")).ToArray();

        await Task.WhenAll(decisions.Select(d => cache.SetAsync(key, d, Ct)));

        var winner = await cache.TryGetAsync(key, Ct);
        Assert.Contains(winner, decisions);
    }

    [Fact]
    public async Task The_hash_is_case_insensitive()
    {
        var cache = NewCache();
        var lower = Key(9);
        await cache.SetAsync(lower, Decision("takedown"), Ct);

        Assert.NotNull(await cache.TryGetAsync(lower with { PdqHashHex = lower.PdqHashHex.ToUpperInvariant() }, Ct));
    }

    [Fact]
    public async Task Keys_follow_the_documented_layout_with_the_hash_as_cluster_hash_tag()
    {
        var cache = NewCache();
        var key = Key(10);
        await cache.SetAsync(key, Decision("allow"), Ct);

        var expected = $"{_prefix}dc:{{{key.PdqHashHex}}}:{Policy}|{Model}";
        Assert.Equal(expected, cache.KeyFor(key));
        Assert.True(await Db.KeyExistsAsync(expected));

        // Cluster slot comes from the PDQ hash only: versions of one hash share a slot, hashes spread out.
        var slot = ClusterSlot.Of(expected);
        Assert.Equal(ClusterSlot.Of(key.PdqHashHex), slot);
        Assert.Equal(slot, ClusterSlot.Of(cache.KeyFor(key with { PolicyVersion = "other", ModelVersion = "other" })));
        Assert.NotEqual(slot, ClusterSlot.Of(cache.KeyFor(Key(11))));
    }

    [Fact]
    public async Task An_unreadable_entry_is_a_miss_and_the_next_decision_replaces_it()
    {
        var cache = NewCache();
        var key = Key(12);
        await Db.StringSetAsync(cache.KeyFor(key), "not json at all");

        Assert.Null(await cache.TryGetAsync(key, Ct));
        await cache.SetAsync(key, Decision("review"), Ct);
        Assert.Equal(Decision("review"), await cache.TryGetAsync(key, Ct));
    }

    [Fact]
    public async Task Hits_and_misses_are_counted_per_cache()
    {
        var cache = NewCache();
        await cache.SetAsync(Key(13), Decision("allow"), Ct);

        await cache.TryGetAsync(Key(13), Ct);
        await cache.TryGetAsync(Key(13), Ct);
        await cache.TryGetAsync(Key(14), Ct);

        Assert.Equal((2L, 1L, 0L), (cache.Hits, cache.Misses, cache.Errors));
    }

    [Fact]
    public async Task Malformed_keys_are_rejected_before_touching_the_store()
    {
        var cache = NewCache();

        await Assert.ThrowsAsync<ArgumentException>(() => cache.TryGetAsync(new DecisionCacheKey("abc", Policy, Model), Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => cache.TryGetAsync(new DecisionCacheKey(new string('g', 64), Policy, Model), Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => cache.SetAsync(new DecisionCacheKey(Hash(1), "", Model), Decision("allow"), Ct));
        Assert.Equal((0L, 0L, 0L), (cache.Hits, cache.Misses, cache.Errors));
    }

    private RedisDecisionCache NewCache(TimeSpan? ttl = null) =>
        new(store.Redis, new RedisCacheOptions { KeyPrefix = _prefix, Ttl = ttl ?? TimeSpan.FromDays(7) });

    private static DecisionCacheKey Key(int n) => new(Hash(n), Policy, Model);

    /// <summary>A distinct, fixed 64-hex-digit hash per <paramref name="n"/>.</summary>
    internal static string Hash(int n) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(n)));

    private static CachedDecision Decision(string action, string note = "") =>
        new(action, $$"""{"action":"{{action}}","note":"{{note}}"}""", new DateTimeOffset(2026, 11, 25, 10, 0, 0, TimeSpan.Zero));
}

public sealed class Decision_cache_on_redis_server(RedisServerFixture store)
    : DecisionCacheContract(store), IClassFixture<RedisServerFixture>;

public sealed class Decision_cache_on_garnet(GarnetServerFixture store)
    : DecisionCacheContract(store), IClassFixture<GarnetServerFixture>;
