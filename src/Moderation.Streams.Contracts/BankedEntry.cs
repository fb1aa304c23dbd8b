namespace Moderation.Streams.Contracts;

/// <summary>Where a takedown verdict put the item's hash: the bank and the entry's id.</summary>
public sealed record BankedEntry(string Bank, string Id);
