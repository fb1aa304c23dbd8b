using Moderation.Streams.Redis;

namespace Moderation.Streams.Embedded.Tests;

public sealed class EmbeddedRedisServerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string AnyHash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [Fact]
    public async Task Port_zero_picks_a_free_port_and_the_configuration_string_connects_to_it()
    {
        await using var first = EmbeddedRedisServer.Start();
        await using var second = EmbeddedRedisServer.Start();
        Assert.NotEqual(first.Port, second.Port);

        await using var redis = await RedisConnector.ConnectAsync(first.Configuration);
        var db = redis.GetDatabase();
        await db.StringSetAsync("k", "v", TimeSpan.FromMinutes(1));

        Assert.Equal("v", (string?)await db.StringGetAsync("k"));
        Assert.True(redis.IsConnected);
        Assert.Contains(first.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), first.Configuration, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_disposed_server_stops_answering()
    {
        var server = EmbeddedRedisServer.Start();
        await using var redis = await RedisConnector.ConnectAsync(server.Configuration);
        await redis.GetDatabase().PingAsync();

        await server.DisposeAsync();

        var cache = new RedisDecisionCache(redis, new RedisCacheOptions());
        await Assert.ThrowsAsync<StoreUnavailableException>(
            () => cache.TryGetAsync(new DecisionCacheKey(AnyHash, "p", "m"), Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct));
    }
}
