using Microsoft.Extensions.Time.Testing;
using Moderation.Streams.Redis.Tests.Servers;
using Polly.CircuitBreaker;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.Tests;

/// <summary>What callers see when the real redis-server dies and comes back on the same port.</summary>
public sealed class StoreOutageTests
{
    /// <summary>Hang guard only: a healthy failure path finishes far sooner; a hang fails the test.</summary>
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan ReconnectDeadline = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_dead_store_fails_fast_with_StoreUnavailableException_and_the_same_cache_works_after_restart()
    {
        await using var server = await RedisServerProcess.StartAsync(Ct);
        await using var redis = await RedisConnector.ConnectAsync(server.Configuration);
        var cache = new RedisDecisionCache(redis, new RedisCacheOptions { KeyPrefix = "outage:" });
        var key = new DecisionCacheKey(DecisionCacheContract.Hash(1), "p1", "m1");
        var decision = new CachedDecision("takedown", "{}", DateTimeOffset.UnixEpoch);
        await cache.SetAsync(key, decision, Ct);
        Assert.Equal(decision, await cache.TryGetAsync(key, Ct));

        await server.StopAsync();

        await Assert.ThrowsAsync<StoreUnavailableException>(() => cache.TryGetAsync(key, Ct).WaitAsync(Guard, Ct));
        await Assert.ThrowsAsync<StoreUnavailableException>(() => cache.SetAsync(key, decision, Ct).WaitAsync(Guard, Ct));
        Assert.Equal(2, cache.Errors);

        await server.RestartAsync(Ct);

        // The restarted server is empty (no persistence): once reconnected, the old key is a miss.
        var afterRestart = await PollUntilAvailableAsync(() => cache.TryGetAsync(key, Ct));
        Assert.Null(afterRestart);
        await cache.SetAsync(key, decision, Ct);
        Assert.Equal(decision, await cache.TryGetAsync(key, Ct));
    }

    [Fact]
    public async Task An_open_circuit_refuses_calls_until_the_break_duration_has_passed()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var options = new RedisCacheOptions
        {
            KeyPrefix = "breaker:",
            RetryAttempts = 0,
            BreakerMinimumThroughput = 2,
            BreakerFailureRatio = 0.5,
            BreakerBreakDuration = TimeSpan.FromSeconds(30),
        };
        await using var server = await RedisServerProcess.StartAsync(Ct);
        await using var redis = await RedisConnector.ConnectAsync(server.Configuration);
        var cache = new RedisDecisionCache(redis, options, time);
        var key = new DecisionCacheKey(DecisionCacheContract.Hash(2), "p1", "m1");
        Assert.Null(await cache.TryGetAsync(key, Ct));

        await server.StopAsync();
        var failures = new List<StoreUnavailableException>();
        for (var call = 0; call < 5 && !failures.Exists(f => f.InnerException is BrokenCircuitException); call++)
        {
            failures.Add(await Assert.ThrowsAsync<StoreUnavailableException>(() => cache.TryGetAsync(key, Ct).WaitAsync(Guard, Ct)));
        }

        Assert.IsAssignableFrom<RedisException>(failures[0].InnerException);
        Assert.IsType<BrokenCircuitException>(failures[^1].InnerException);

        await server.RestartAsync(Ct);
        await WaitUntilConnectedAsync(redis);

        // The store is back, but the circuit stays open on the (fake) clock: callers are still shielded.
        var shielded = await Assert.ThrowsAsync<StoreUnavailableException>(() => cache.TryGetAsync(key, Ct).WaitAsync(Guard, Ct));
        Assert.IsType<BrokenCircuitException>(shielded.InnerException);

        time.Advance(options.BreakerBreakDuration);

        Assert.Null(await cache.TryGetAsync(key, Ct));
    }

    [Fact]
    public async Task A_store_that_is_down_at_start_does_not_fail_the_connect_and_lookups_fail_fast()
    {
        await using var server = await RedisServerProcess.StartAsync(Ct);
        await server.StopAsync();

        await using var redis = await RedisConnector.ConnectAsync(server.Configuration).WaitAsync(Guard, Ct);
        var cache = new RedisDecisionCache(redis, new RedisCacheOptions());

        await Assert.ThrowsAsync<StoreUnavailableException>(
            () => cache.TryGetAsync(new DecisionCacheKey(DecisionCacheContract.Hash(3), "p", "m"), Ct).WaitAsync(Guard, Ct));
        Assert.Equal(1, cache.Errors);
    }

    private static async Task<T> PollUntilAvailableAsync<T>(Func<Task<T>> call)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(ReconnectDeadline);
        while (true)
        {
            try
            {
                return await call();
            }
            catch (StoreUnavailableException) when (!deadline.IsCancellationRequested)
            {
                await Task.Delay(50, deadline.Token);
            }
        }
    }

    private static async Task WaitUntilConnectedAsync(IConnectionMultiplexer redis)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        deadline.CancelAfter(ReconnectDeadline);
        while (!redis.IsConnected)
        {
            await Task.Delay(20, deadline.Token);
        }
    }
}
