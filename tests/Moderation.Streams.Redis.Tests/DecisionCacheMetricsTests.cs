using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Moderation.Streams.Redis.Tests.Servers;

namespace Moderation.Streams.Redis.Tests;

/// <summary>The meter is process-wide, so these tests run alone.</summary>
[CollectionDefinition(nameof(MeterTests), DisableParallelization = true)]
public sealed class MeterTests;

[Collection(nameof(MeterTests))]
public sealed class DecisionCacheMetricsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Lookups_are_published_as_moderation_cache_lookups_tagged_hit_miss_or_error()
    {
        var lookups = new ConcurrentQueue<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Moderation.Streams.Redis" && instrument.Name == "moderation.cache.lookups")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "result")
                {
                    for (var i = 0; i < value; i++)
                    {
                        lookups.Enqueue((string)tag.Value!);
                    }
                }
            }
        });
        listener.Start();

        await using var server = await RedisServerProcess.StartAsync(Ct);
        await using var redis = await RedisConnector.ConnectAsync(server.Configuration);
        var cache = new RedisDecisionCache(redis, new RedisCacheOptions { KeyPrefix = "metrics:" });
        var key = new DecisionCacheKey(DecisionCacheContract.Hash(1), "p", "m");

        await cache.TryGetAsync(key, Ct);
        await cache.SetAsync(key, new CachedDecision("allow", "{}", DateTimeOffset.UnixEpoch), Ct);
        await cache.TryGetAsync(key, Ct);
        await server.StopAsync();
        await Assert.ThrowsAsync<StoreUnavailableException>(() => cache.TryGetAsync(key, Ct));

        Assert.Equal(["miss", "hit", "error"], lookups.ToArray());
        Assert.Equal((1L, 1L, 1L), (cache.Hits, cache.Misses, cache.Errors));
    }
}
