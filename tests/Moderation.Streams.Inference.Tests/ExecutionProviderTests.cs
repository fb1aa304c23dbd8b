using System.Diagnostics.Metrics;

namespace Moderation.Streams.Inference.Tests;

/// <summary>
/// Execution-provider selection on this build (the CPU-only ONNX Runtime package, no GPU): <c>cuda</c> is
/// refused with a message that says why and what to do; <c>auto</c> falls back to the CPU and says so
/// (reason + metric); <c>cpu</c> is the CPU with no fallback to report.
/// </summary>
public sealed class ExecutionProviderTests
{
    [Fact]
    public void Cuda_requested_where_it_cannot_run_is_refused_with_the_reason_and_the_way_out()
    {
        var error = Assert.Throws<ExecutionProviderUnavailableException>(
            () => OnnxImageClassifier.Load(options: new ClassifierOptions { Device = InferenceDevice.Cuda }));

        Assert.Contains("Inference:Device is 'cuda'", error.Message, StringComparison.Ordinal);
        Assert.Contains("CPU-only ONNX Runtime", error.Message, StringComparison.Ordinal); // the reason, on this build
        Assert.Contains("-p:OnnxRuntimeFlavor=gpu", error.Message, StringComparison.Ordinal);
        Assert.Contains("'auto'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_falls_back_to_the_cpu_with_a_reason_and_a_counted_fallback_and_still_classifies()
    {
        long fallbacks = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == InferenceTelemetry.MeterName && instrument.Name == InferenceTelemetry.DeviceFallbacksCounter)
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref fallbacks, value));
        listener.Start();

        using var classifier = OnnxImageClassifier.Load(options: new ClassifierOptions { Device = InferenceDevice.Auto });

        Assert.Equal("cpu", classifier.Device);
        Assert.False(classifier.IsCuda);
        Assert.NotNull(classifier.DeviceFallbackReason);
        Assert.Contains("CPU-only", classifier.DeviceFallbackReason, StringComparison.Ordinal);
        Assert.True(Interlocked.Read(ref fallbacks) >= 1);
        var reference = TestData.Reference[0];
        Assert.Equal(reference.Top, classifier.Classify([TestData.Decode(reference)])[0].TopLabel);
    }

    [Fact]
    public void Cpu_requested_runs_on_the_cpu_with_exact_batch_sizes_and_nothing_to_report()
    {
        using var classifier = OnnxImageClassifier.Load(options: new ClassifierOptions { Device = InferenceDevice.Cpu });

        Assert.Equal("cpu", classifier.Device);
        Assert.Null(classifier.DeviceFallbackReason);
        Assert.Null(classifier.BatchBuckets);
    }

    [Fact]
    public void Cpu_threads_divide_the_cores_among_concurrent_runs_unless_set()
    {
        Assert.Equal(Environment.ProcessorCount, new ClassifierOptions().ResolveIntraOpThreads());
        Assert.Equal(Math.Max(1, Environment.ProcessorCount / 2), new ClassifierOptions { ConcurrentRuns = 2 }.ResolveIntraOpThreads());
        Assert.Equal(1, new ClassifierOptions { ConcurrentRuns = 1024 }.ResolveIntraOpThreads());
        Assert.Equal(3, new ClassifierOptions { IntraOpThreads = 3, ConcurrentRuns = 2 }.ResolveIntraOpThreads());
    }
}
