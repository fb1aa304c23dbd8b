namespace Moderation.Streams.Redis.Banks;

/// <summary>What a run of changes to a bank touched: the ids added, replaced or removed (read them to learn which),
/// and when the last change was written (null when the writer did not record it).</summary>
public sealed record BankChanges(IReadOnlySet<string> Ids, DateTimeOffset? ChangedAt);
