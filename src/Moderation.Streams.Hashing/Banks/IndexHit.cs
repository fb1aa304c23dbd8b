namespace Moderation.Streams.Hashing.Banks;

/// <summary>A hash found by a search: its position in the indexed list and its distance to the query.</summary>
public readonly record struct IndexHit(int Position, int Distance);
