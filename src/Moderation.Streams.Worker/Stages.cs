using System.Diagnostics;

namespace Moderation.Streams.Worker;

/// <summary>The spans of one upload's screening: the upload's span, and a child span per stage.</summary>
internal static class Stages
{
    public static readonly ActivitySource Source = new(ScreeningPipeline.ActivitySourceName);

    /// <summary>A child span of the upload's span for one stage (fetch, decode, hash, bank lookup, cache lookup, inference, policy, publish).</summary>
    public static Activity? Start(string name) => Source.StartActivity(name, ActivityKind.Internal);
}
