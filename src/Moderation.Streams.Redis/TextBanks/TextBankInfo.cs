namespace Moderation.Streams.Redis.TextBanks;

/// <summary>A text bank as <see cref="RedisTextBankStore.ListAsync"/> lists it; <paramref name="Threshold"/> is a
/// <c>texts</c> bank's least cosine similarity (null for other kinds).</summary>
public sealed record TextBankInfo(string Name, string Kind, long Count, long Version, float? Threshold = null);
