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

/// <param name="PdqHashHex">The 256-bit PDQ hash as 64 hex digits (either case; stored lower-case).</param>
/// <param name="PolicyVersion">Policy version, e.g. <c>2026-11-25.1</c>; must not contain <c>|</c>.</param>
/// <param name="ModelVersion">Model version, e.g. <c>nsfw-mobilenet-v2@1</c>.</param>
public readonly record struct DecisionCacheKey(string PdqHashHex, string PolicyVersion, string ModelVersion);

/// <param name="Action">The decided action (<c>takedown</c>, <c>review</c>, <c>allow</c>).</param>
/// <param name="DecisionJson">The full decision as the caller serialised it; opaque to this layer.</param>
/// <param name="DecidedAt">When the decision was originally made.</param>
public sealed record CachedDecision(string Action, string DecisionJson, DateTimeOffset DecidedAt);
