using Moderation.Streams.Inference;
using Moderation.Streams.Kafka;
using Moderation.Streams.Redis;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Moderation.Streams.Worker;

/// <summary>
/// What the product exports: every component's <see cref="System.Diagnostics.ActivitySource"/> and
/// <see cref="System.Diagnostics.Metrics.Meter"/>, registered by one <c>AddModerationTelemetry()</c> on the tracer and the
/// meter provider (the worker host, and any test or verb that collects telemetry, use these and no list of their own).
/// </summary>
public static class ModerationTelemetry
{
    /// <summary>Every meter: one per component.</summary>
    public static readonly IReadOnlyList<string> Meters =
        [WorkerTelemetry.MeterName, KafkaTelemetry.MeterName, RedisTelemetry.MeterName, InferenceTelemetry.MeterName];

    /// <summary>Every activity source: the components that make spans.</summary>
    public static readonly IReadOnlyList<string> ActivitySources =
        [WorkerTelemetry.ActivitySourceName, InferenceTelemetry.ActivitySourceName];

    /// <summary>Adds the spans of every component.</summary>
    public static TracerProviderBuilder AddModerationTelemetry(this TracerProviderBuilder tracing) => tracing.AddSource([.. ActivitySources]);

    /// <summary>Adds the metrics of every component (duration histograms carry their bucket boundaries as instrument advice).</summary>
    public static MeterProviderBuilder AddModerationTelemetry(this MeterProviderBuilder metrics) => metrics.AddMeter([.. Meters]);
}
