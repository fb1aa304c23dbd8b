using Moderation.Streams.Redis;

namespace Moderation.Streams.Worker.Tests;

/// <summary>While the decision cache is down every upload fails over to screening without it: that is counted per upload
/// but logged once per kind per interval, not once per upload.</summary>
public sealed class CachedDecisionsTests
{
    private sealed class Down : IDecisionCache
    {
        public Task<CachedDecision?> TryGetAsync(DecisionCacheKey key, CancellationToken ct) => throw new StoreUnavailableException("Redis is down");
        public Task SetAsync(DecisionCacheKey key, CachedDecision decision, CancellationToken ct) => throw new StoreUnavailableException("Redis is down");
    }

    [Fact]
    public async Task A_cache_that_stays_down_costs_one_warning_not_one_per_upload()
    {
        var logs = new PolicyReloadTests.Logs();
        var stats = new ScreeningStats();
        var cached = new CachedDecisions(new Down(), stats, logs.CreateLogger("cache"));

        for (int i = 0; i < 200; i++)
            Assert.Null(await cached.TryGetAsync<string>(new DecisionCacheKey($"{i:x64}", "p", "m"), json => json, TestContext.Current.CancellationToken));

        Assert.Equal(200, stats.CacheUnavailableCount);
        // Before the fix: 200 identical warnings.
        Assert.Single(logs.Lines, l => l.Contains("Decision cache unavailable", StringComparison.Ordinal));
    }
}
