namespace Moderation.Streams.Redis.Banks;

/// <summary>A bank's name, entry count and version as the store holds them.</summary>
public sealed record BankInfo(string Name, long Count, long Version);
