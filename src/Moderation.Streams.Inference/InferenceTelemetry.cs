using System.Diagnostics.Metrics;

namespace Moderation.Streams.Inference;

/// <summary>The one <see cref="Meter"/> and <see cref="System.Diagnostics.ActivitySource"/> of this component and the names they publish.
/// Durations are histograms in seconds (OpenTelemetry semantic conventions).</summary>
public static class InferenceTelemetry
{
    public const string MeterName = "Moderation.Streams.Inference";
    public const string BatchesCounter = "moderation.inference.batches";
    public const string ImagesCounter = "moderation.inference.images";
    public const string BatchSizeHistogram = "moderation.inference.batch_size";
    public const string QueueWaitHistogram = "moderation.inference.queue_wait";
    public const string DeviceFallbacksCounter = "moderation.inference.device_fallbacks";
    public const string DurationHistogram = "moderation.inference.duration";

    /// <summary>Bucket boundaries (seconds) of the duration histograms: a GPU batch takes milliseconds, a CPU batch of 16 tens of them,
    /// a batcher's wait is bounded by its max delay unless the model is saturated.</summary>
    private static readonly double[] DurationBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    internal static readonly Meter Meter = new(MeterName);

    /// <summary>Spans of inference batches (name <c>inference batch</c>), linked to the uploads' spans.</summary>
    public const string ActivitySourceName = "Moderation.Streams.Inference";
    internal static readonly System.Diagnostics.ActivitySource Source = new(ActivitySourceName);
    internal static readonly Counter<long> Batches = Meter.CreateCounter<long>(BatchesCounter, "{batch}", "Inference runs by device.");
    internal static readonly Counter<long> Images = Meter.CreateCounter<long>(ImagesCounter, "{image}", "Images classified by device.");
    internal static readonly Histogram<int> BatchSize = Meter.CreateHistogram<int>(BatchSizeHistogram, "{image}", "Images per batch formed by the dynamic batcher.");
    internal static readonly Histogram<double> Duration = Meter.CreateHistogram<double>(DurationHistogram, "s", "Time one batch spends in the model, by model and device.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
    internal static readonly Histogram<double> QueueWait = Meter.CreateHistogram<double>(QueueWaitHistogram, "s", "Time from submission to the start of the image's batch.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });

    /// <summary>Counted once per model load that wanted CUDA (<c>auto</c>) and fell back to the CPU, tagged with the reason.</summary>
    internal static readonly Counter<long> DeviceFallbacks =
        Meter.CreateCounter<long>(DeviceFallbacksCounter, "{fallback}", "Model loads that fell back from CUDA to the CPU.");
}
