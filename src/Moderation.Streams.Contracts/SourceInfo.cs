namespace Moderation.Streams.Contracts;

public sealed record SourceInfo(string Topic, int Partition, long Offset);
