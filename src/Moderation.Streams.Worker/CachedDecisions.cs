using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Redis;

namespace Moderation.Streams.Worker;

/// <summary>
/// The screeners' one way to the decision cache: a lookup or a store that the store cannot answer, or an entry that
/// cannot be read, is logged and counted and the upload is screened (or decided) as if there were no cache. Whether a
/// cached decision may be reused, and whether a decision may be stored, is <see cref="Decider"/>'s call, not this class's.
/// </summary>
public sealed class CachedDecisions(IDecisionCache cache, ScreeningStats stats, ILogger logger, TimeProvider? time = null)
{
    /// <summary>While the store is down every upload fails over: one warning per kind per interval, the rest counted.</summary>
    private readonly LogThrottle _warnings = new(TimeSpan.FromSeconds(30), time);

    /// <summary>The entry under <paramref name="key"/>, read by <paramref name="read"/> from its JSON; null on a miss,
    /// when the store is unavailable, or when the entry cannot be read.</summary>
    public async Task<T?> TryGetAsync<T>(DecisionCacheKey key, Func<string, T?> read, CancellationToken ct) where T : class
    {
        using var span = Stages.Start("cache lookup");
        try
        {
            var cached = await cache.TryGetAsync(key, ct).ConfigureAwait(false);
            return cached is null ? null : read(cached.DecisionJson);
        }
        catch (StoreUnavailableException e)
        {
            stats.CacheUnavailable();
            if (_warnings.ShouldLog("lookup", out long more))
                logger.LogWarning("Decision cache unavailable, screening without it: {Message} ({Suppressed} more not logged)", e.Message, more);
            return null;
        }
        catch (Exception e) when (e is JsonException or FormatException or NotSupportedException or ArgumentException)
        {
            span?.SetStatus(ActivityStatusCode.Error, "unreadable entry");
            if (_warnings.ShouldLog("unreadable", out long more))
                logger.LogWarning("Unreadable cached decision ignored: {Message} ({Suppressed} more not logged)", e.Message, more);
            return null;
        }
    }

    /// <summary>Stores <paramref name="json"/> (the decision, and whatever the screener keeps with it) for <paramref name="decision"/>.</summary>
    public async Task StoreAsync(DecisionCacheKey key, DecisionEvent decision, string json, CancellationToken ct)
    {
        using var span = Stages.Start("cache store");
        try
        {
            await cache.SetAsync(key, new CachedDecision(decision.Action, json, decision.DecidedAt), ct).ConfigureAwait(false);
        }
        catch (StoreUnavailableException e)
        {
            stats.CacheUnavailable();
            if (_warnings.ShouldLog("store", out long more))
                logger.LogWarning("Decision cache unavailable, decision not cached: {Message} ({Suppressed} more not logged)", e.Message, more);
        }
    }
}
