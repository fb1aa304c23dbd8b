namespace Moderation.Streams.Kafka.Replay;

/// <summary>How a replay ended. <see cref="Completed"/> only when every offset of the range was processed.</summary>
public sealed record ReplayResult(bool Completed, long Total, long AlreadyDone, long Processed, long Published, string? Error)
{
    public long Done => AlreadyDone + Processed;
}
