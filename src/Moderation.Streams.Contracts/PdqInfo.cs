namespace Moderation.Streams.Contracts;

public sealed record PdqInfo(string Hash, int Quality);
