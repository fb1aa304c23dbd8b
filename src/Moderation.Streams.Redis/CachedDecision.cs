namespace Moderation.Streams.Redis;

/// <param name="Action">The decided action (<c>takedown</c>, <c>review</c>, <c>allow</c>).</param>
/// <param name="DecisionJson">The full decision as the caller serialised it; opaque to this layer.</param>
/// <param name="DecidedAt">When the decision was originally made.</param>
public sealed record CachedDecision(string Action, string DecisionJson, DateTimeOffset DecidedAt);
