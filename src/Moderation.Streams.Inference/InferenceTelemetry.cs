using System.Diagnostics.Metrics;

namespace Moderation.Streams.Inference;

/// <summary>The one <see cref="Meter"/> of this component and the names it publishes.</summary>
public static class InferenceTelemetry
{
    public const string MeterName = "Moderation.Streams.Inference";
    public const string BatchesCounter = "moderation.inference.batches";
    public const string ImagesCounter = "moderation.inference.images";
    public const string BatchSizeHistogram = "moderation.inference.batch_size";
    public const string QueueWaitHistogram = "moderation.inference.queue_wait";
    public const string DeviceFallbacksCounter = "moderation.inference.device_fallbacks";
    public const string DurationHistogram = "moderation.inference.duration";

    internal static readonly Meter Meter = new(MeterName);

    /// <summary>Spans of inference batches (name <c>inference batch</c>), linked to the uploads' spans.</summary>
    public const string ActivitySourceName = "Moderation.Streams.Inference";
    internal static readonly System.Diagnostics.ActivitySource Source = new(ActivitySourceName);
    internal static readonly Counter<long> Batches = Meter.CreateCounter<long>(BatchesCounter, "{batch}", "Inference runs by device.");
    internal static readonly Counter<long> Images = Meter.CreateCounter<long>(ImagesCounter, "{image}", "Images classified by device.");
    internal static readonly Histogram<int> BatchSize = Meter.CreateHistogram<int>(BatchSizeHistogram, "{image}", "Images per batch formed by the dynamic batcher.");
    internal static readonly Histogram<double> Duration = Meter.CreateHistogram<double>(DurationHistogram, "ms", "Time one batch spends in the model, by model and device.");
    internal static readonly Histogram<double> QueueWait = Meter.CreateHistogram<double>(QueueWaitHistogram, "ms", "Time from submission to the start of the image's batch.");

    /// <summary>Counted once per model load that wanted CUDA (<c>auto</c>) and fell back to the CPU, tagged with the reason.</summary>
    internal static readonly Counter<long> DeviceFallbacks =
        Meter.CreateCounter<long>(DeviceFallbacksCounter, "{fallback}", "Model loads that fell back from CUDA to the CPU.");
}
