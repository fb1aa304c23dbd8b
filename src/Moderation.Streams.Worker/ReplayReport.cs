using Moderation.Streams.Kafka;
using Moderation.Streams.Kafka.Replay;

namespace Moderation.Streams.Worker;

/// <summary>The screening settings a replay builds its pipeline from (the worker's configuration sections).</summary>
/// <summary>How a replay ended, with the diff when it compared.</summary>
public sealed record ReplayReport(ReplayPlan Plan, ReplayResult Result, ReplayDiff? Diff, string PolicyVersion, string ModelVersion, KafkaOptions Output);
