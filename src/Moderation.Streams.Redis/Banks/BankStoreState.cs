namespace Moderation.Streams.Redis.Banks;

/// <summary>What a reader compares to decide what to read again: the store's epoch (a random id set by the first
/// writer: a store restarted empty gets a new one, so counters that started again from 1 cannot be mistaken for
/// versions already seen) and every bank's version.</summary>
public sealed record BankStoreState(string? Epoch, IReadOnlyDictionary<string, long> Versions);
