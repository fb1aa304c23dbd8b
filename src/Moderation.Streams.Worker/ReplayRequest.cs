using Moderation.Streams.Kafka.Replay;

namespace Moderation.Streams.Worker;

/// <summary>What to replay and how (the <c>moderation replay</c> flags).</summary>
public sealed record ReplayRequest
{
    public required ReplayBound From { get; init; }
    public ReplayBound To { get; init; } = new ReplayBound.Now();

    /// <summary>Names the replay's consumer group (<c>moderation-replay-NAME</c>); null = derived from the range,
    /// topic, policy, model and output, so running the same command again resumes it.</summary>
    public string? Name { get; init; }

    /// <summary>Publish to the live decision topics instead of <c>moderation.backfill.*</c>.</summary>
    public bool Live { get; init; }

    public bool DryRun { get; init; }
    public double? Rate { get; init; }
    public bool Compare { get; init; }

    /// <summary>Read and write the decision cache (banks are used either way when Redis is configured).</summary>
    public bool UseDecisionCache { get; init; }

    public int MaxInFlight { get; init; } = 256;
    public TimeSpan CommitInterval { get; init; } = TimeSpan.FromSeconds(1);
}
