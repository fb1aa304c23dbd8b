using System.Diagnostics;

namespace Moderation.Streams.Worker;

/// <summary>The child spans of one upload's screening, on the worker's one <see cref="WorkerTelemetry.Source"/>.</summary>
internal static class Stages
{
    /// <summary>A child span of the upload's span for one stage (fetch, decode, hash, bank lookup, cache lookup, inference, policy, publish).</summary>
    public static Activity? Start(string name) => WorkerTelemetry.Source.StartActivity(name, ActivityKind.Internal);
}
