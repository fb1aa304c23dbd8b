using System.Diagnostics.Metrics;
using System.Runtime.InteropServices;

namespace Moderation.Streams.Inference.Tests;

/// <summary>
/// Execution-provider selection where CUDA cannot run: <c>cuda</c> is refused with a message that says why and
/// what to do; <c>auto</c> falls back to the CPU and says so (reason + metric); <c>cpu</c> is the CPU with no
/// fallback to report. The reason depends on the ONNX Runtime package the build carries:
/// <list type="bullet">
/// <item>the default build (CPU-only package): no CUDA entry point;</item>
/// <item>built with <c>-p:OnnxRuntimeFlavor=gpu</c> (symbol <c>ORT_GPU</c>; <c>tools/test-gpu-flavour.sh</c>):
/// the GPU package's CUDA provider library does not load, and the reason names the CUDA library it is missing.
/// On a machine where every library it links against loads, those tests are skipped and the GPU test runs.</item>
/// </list>
/// </summary>
public sealed class ExecutionProviderTests
{
#if ORT_GPU
    private const string ProviderLibrary = "libonnxruntime_providers_cuda.so";

    /// <summary>
    /// What Microsoft.ML.OnnxRuntime.Gpu.Linux 1.31.0's provider library links against, in its NEEDED order
    /// (<c>readelf -d</c>); the dynamic loader reports the first one it cannot find.
    /// </summary>
    private static readonly string[] ProviderNeeds = ["libcublasLt.so.13", "libcublas.so.13", "libcurand.so.10", "libcudart.so.13", "libcuda.so.1"];

    /// <summary>The first library the provider needs that does not load here; null where all do.</summary>
    private static readonly string? MissingCudaLibrary = ProviderNeeds.FirstOrDefault(name => !Loads(name));

    /// <summary>What a CUDA session needs beyond the provider's links (cuDNN is opened at run time).</summary>
    private static readonly string? MissingForCuda = MissingCudaLibrary ?? (Loads("libcudnn.so.9") ? null : "libcudnn.so.9");

    /// <summary>Why CUDA cannot be used on this build and machine, as the fallback reason and the refusal say it.</summary>
    internal static string ExpectedReason => $"{ProviderLibrary} does not load: {MissingCudaLibrary}: cannot open shared object file";

    private static bool Loads(string name)
    {
        if (!NativeLibrary.TryLoad(name, out var handle)) return false;
        NativeLibrary.Free(handle);
        return true;
    }

    private static void SkipWithoutCuda() =>
        Assert.SkipWhen(MissingForCuda is not null,
            $"{MissingForCuda} does not load here: this test needs an NVIDIA GPU with CUDA 13 and cuDNN 9 (tools/gpu-check.sh)");

    internal static void SkipWhereCudaCanLoad() =>
        Assert.SkipWhen(MissingCudaLibrary is null,
            $"every library {ProviderLibrary} links against loads here: this test is for a machine without CUDA 13");
#else
    internal const string ExpectedReason = "this build carries the CPU-only ONNX Runtime";

    internal static void SkipWhereCudaCanLoad() { }
#endif

    [Fact]
    public void Cuda_requested_where_it_cannot_run_is_refused_with_the_reason_and_the_way_out()
    {
        SkipWhereCudaCanLoad();

        var error = Assert.Throws<ExecutionProviderUnavailableException>(
            () => OnnxImageClassifier.Load(options: new ClassifierOptions { Device = InferenceDevice.Cuda }));

        Assert.Contains("Inference:Device is 'cuda'", error.Message, StringComparison.Ordinal);
        Assert.Contains(ExpectedReason, error.Message, StringComparison.Ordinal); // the reason, on this build
        Assert.Contains("-p:OnnxRuntimeFlavor=gpu", error.Message, StringComparison.Ordinal);
        Assert.Contains("'auto'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_falls_back_to_the_cpu_with_a_reason_and_still_classifies_counting_the_fallback_only_on_a_build_that_carries_cuda()
    {
        SkipWhereCudaCanLoad();
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
        Assert.Contains(ExpectedReason, classifier.DeviceFallbackReason, StringComparison.Ordinal);
        // A GPU build that cannot use its GPU has fallen back (the alert should fire); the CPU-only build has not.
        Assert.Equal(!OnnxImageClassifier.IsCpuOnlyBuild, Interlocked.Read(ref fallbacks) >= 1);
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
    public void Concurrent_runs_left_at_zero_follow_the_device_that_runs_also_after_an_auto_fallback()
    {
        using var auto = OnnxImageClassifier.Load(options: new ClassifierOptions { Device = InferenceDevice.Auto, ConcurrentRuns = 0, WarmUp = false });
        using var cpu = OnnxImageClassifier.Load(options: new ClassifierOptions { Device = InferenceDevice.Cpu, ConcurrentRuns = 0, WarmUp = false });
        using var set = OnnxImageClassifier.Load(options: new ClassifierOptions { Device = InferenceDevice.Auto, ConcurrentRuns = 3, WarmUp = false });

        // On the CPU one run uses every core; CUDA overlaps two.
        Assert.Equal(auto.IsCuda ? 2 : 1, auto.Options.ConcurrentRuns);
        Assert.Equal(1, cpu.Options.ConcurrentRuns);
        Assert.Equal(Environment.ProcessorCount, cpu.Options.ResolveIntraOpThreads());
        Assert.Equal(3, set.Options.ConcurrentRuns);
    }

    [Fact]
    public void Cpu_threads_divide_the_cores_among_concurrent_runs_unless_set()
    {
        Assert.Equal(Environment.ProcessorCount, new ClassifierOptions().ResolveIntraOpThreads());
        Assert.Equal(Math.Max(1, Environment.ProcessorCount / 2), new ClassifierOptions { ConcurrentRuns = 2 }.ResolveIntraOpThreads());
        Assert.Equal(1, new ClassifierOptions { ConcurrentRuns = 1024 }.ResolveIntraOpThreads());
        Assert.Equal(3, new ClassifierOptions { IntraOpThreads = 3, ConcurrentRuns = 2 }.ResolveIntraOpThreads());
    }

    [Fact]
    public void The_build_carries_the_cuda_provider_library_exactly_when_built_for_the_gpu()
    {
        // Both packages at once would be worse than either: the CPU library wins and CUDA silently disappears.
        bool carried = File.Exists(Path.Combine(AppContext.BaseDirectory, "libonnxruntime_providers_cuda.so"));
#if ORT_GPU
        Assert.True(carried, "built with -p:OnnxRuntimeFlavor=gpu but libonnxruntime_providers_cuda.so is not in the output");
#else
        Assert.False(carried, "the default (CPU) build carries libonnxruntime_providers_cuda.so");
#endif
    }

#if ORT_GPU
    [Fact]
    public void Cuda_where_a_gpu_and_its_libraries_are_present_runs_there_in_buckets_and_scores_like_the_cpu()
    {
        SkipWithoutCuda();

        using var cuda = OnnxImageClassifier.Load(options: new ClassifierOptions { Device = InferenceDevice.Cuda, MaxBatchSize = 8 });
        using var cpu = OnnxImageClassifier.Load(options: new ClassifierOptions { Device = InferenceDevice.Cpu, MaxBatchSize = 8 });

        Assert.Equal("cuda:0", cuda.Device);
        Assert.True(cuda.IsCuda);
        Assert.Null(cuda.DeviceFallbackReason);
        Assert.Equal([1, 2, 4, 8], cuda.BatchBuckets!);
        var images = TestData.Reference.Select(TestData.Decode).ToArray();
        var onGpu = cuda.Classify(images);
        var onCpu = cpu.Classify(images);
        for (int i = 0; i < images.Length; i++)
        {
            Assert.Equal(TestData.Reference[i].Top, onGpu[i].TopLabel);
            // cuDNN may run float convolutions in TF32 (ONNX Runtime's default on Ampere and later): close, not equal.
            float worst = onGpu[i].Values.Select((v, k) => Math.Abs(v - onCpu[i].Values[k])).Max();
            Assert.True(worst <= 0.01f, $"{TestData.Reference[i].File}: CUDA and CPU scores differ by {worst:E2}");
        }
    }

    [Fact]
    public void On_cuda_page_locked_input_memory_gives_the_same_scores_as_pageable()
    {
        SkipWithoutCuda();

        using var pinned = OnnxImageClassifier.Load(options: new ClassifierOptions { Device = InferenceDevice.Cuda, MaxBatchSize = 8, CudaPinnedInput = true });
        using var pageable = OnnxImageClassifier.Load(options: new ClassifierOptions { Device = InferenceDevice.Cuda, MaxBatchSize = 8 });

        Assert.Equal("cuda-pinned", pinned.HostMemory);
        Assert.Equal("managed", pageable.HostMemory);
        var images = TestData.Reference.Select(TestData.Decode).ToArray();
        var a = pinned.Classify(images);
        var b = pageable.Classify(images);
        for (int i = 0; i < images.Length; i++) Assert.Equal(b[i].Values, a[i].Values);
    }
#endif

    [Fact]
    public void Page_locked_input_is_a_cuda_option_the_cpu_ignores()
    {
        using var cpu = OnnxImageClassifier.Load(options: new ClassifierOptions { Device = InferenceDevice.Cpu, CudaPinnedInput = true });
        using var plain = OnnxImageClassifier.Load(options: new ClassifierOptions { Device = InferenceDevice.Cpu });

        Assert.Equal("managed", cpu.HostMemory); // warmed up: one lane exists
        var image = TestData.Decode(TestData.Reference[0]);
        Assert.Equal(plain.Classify([image])[0].Values, cpu.Classify([image])[0].Values);
    }
}
