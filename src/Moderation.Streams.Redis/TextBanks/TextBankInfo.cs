namespace Moderation.Streams.Redis.TextBanks;

/// <summary>A text bank as <see cref="RedisTextBankStore.ListAsync"/> lists it.</summary>
public sealed record TextBankInfo(string Name, string Kind, long Count, long Version);
