namespace Moderation.Streams.Redis;

/// <summary>
/// Exact PDQ hash → last decision, scoped to one policy version and one model version so that a new
/// policy or model never reads a decision made under the old one.
/// </summary>
public interface IDecisionCache
{
    /// <summary>The cached decision, or <c>null</c> on a miss.</summary>
    /// <exception cref="StoreUnavailableException">The store cannot answer now; screen with the model.</exception>
    Task<CachedDecision?> TryGetAsync(DecisionCacheKey key, CancellationToken ct);

    /// <summary>Stores (or overwrites) the decision for <paramref name="key"/> with the configured TTL.</summary>
    /// <exception cref="StoreUnavailableException">The store cannot answer now; the decision stands uncached.</exception>
    Task SetAsync(DecisionCacheKey key, CachedDecision decision, CancellationToken ct);
}
