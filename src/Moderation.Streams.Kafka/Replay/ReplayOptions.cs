namespace Moderation.Streams.Kafka.Replay;

/// <summary>How a replay runs (the range itself is the <see cref="ReplayPlan"/>).</summary>
public sealed record ReplayOptions
{
    /// <summary>Uploads per second at most, so live screening keeps its share; null = as fast as it goes.</summary>
    public double? Rate { get; init; }

    /// <summary>Decide without publishing or committing anything.</summary>
    public bool DryRun { get; init; }

    /// <summary>Uploads being screened at once; the loop stops fetching above it.</summary>
    public int MaxInFlight { get; init; } = 256;

    /// <summary>How often finished offsets are committed to the replay's group (what a restart resumes from).</summary>
    public TimeSpan CommitInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long an interrupted replay waits for in-flight uploads before it stops, and a failed one for the
    /// uploads it cancelled.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);
}
