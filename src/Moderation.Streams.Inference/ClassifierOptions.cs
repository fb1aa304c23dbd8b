namespace Moderation.Streams.Inference;

/// <summary>How <see cref="OnnxImageClassifier"/> runs a model.</summary>
public sealed record ClassifierOptions
{
    public InferenceDevice Device { get; init; } = InferenceDevice.Cpu;

    /// <summary>
    /// Float32, or the model's float16 variant (for CUDA). <see cref="InferenceDevice.Auto"/> that ends on the CPU runs
    /// float32 instead and says so in <see cref="OnnxImageClassifier.DeviceFallbackReason"/>; <see cref="InferenceDevice.Cpu"/>
    /// runs float16 as asked (slower than float32 there: for parity checks).
    /// </summary>
    public InferencePrecision Precision { get; init; } = InferencePrecision.Fp32;

    /// <summary>CUDA device ordinal.</summary>
    public int CudaDeviceId { get; init; }

    /// <summary>
    /// CPU threads one inference may use; 0 = the machine's cores divided among <see cref="ConcurrentRuns"/>
    /// (a run that owns every core for itself gains nothing from a second concurrent run).
    /// </summary>
    public int IntraOpThreads { get; init; }

    /// <summary>
    /// How many inferences are expected to run at once (the batcher's concurrent batches); 0 = the device's
    /// default, settled once the device is known: 2 on CUDA (one batch copies while another computes), 1 on the
    /// CPU (a run already uses every core), also when <see cref="InferenceDevice.Auto"/> falls back to the CPU.
    /// </summary>
    public int ConcurrentRuns { get; init; } = 1;

    /// <summary>These options with <see cref="ConcurrentRuns"/> 0 settled for the device that runs.</summary>
    internal ClassifierOptions ForDevice(bool cuda) => ConcurrentRuns > 0 ? this : this with { ConcurrentRuns = cuda ? 2 : 1 };

    /// <summary>
    /// Largest batch one run takes; larger requests are split. Input and output tensors for this many images
    /// are preallocated (pinned) per concurrent run.
    /// </summary>
    public int MaxBatchSize { get; init; } = 64;

    /// <summary>
    /// Fixed batch sizes runs are padded up to (the smallest one that fits), each bound and warmed up once at
    /// load. Null = powers of two up to <see cref="MaxBatchSize"/> on CUDA (shapes the GPU kernels are tuned
    /// for once), exact sizes on the CPU (padding there would only burn cycles).
    /// </summary>
    public IReadOnlyList<int>? BatchBuckets { get; init; }

    /// <summary>Run every bucket once at load (CUDA: kernel selection, memory arenas) so the first uploads are not slow.</summary>
    public bool WarmUp { get; init; } = true;

    /// <summary>
    /// Log ONNX Runtime's session creation at its verbose level (stderr), which says on which execution provider
    /// each node runs ("All nodes placed on [CUDAExecutionProvider]"). Diagnostics only: the log is long.
    /// </summary>
    public bool LogNodePlacement { get; init; }

    /// <summary>
    /// On CUDA, preprocess into page-locked host memory from the CUDA provider's pinned allocator instead of a
    /// GC-pinned managed array, so the copy to the GPU is a DMA without a staging copy. Off by default until a GPU
    /// run measures it (<c>bench inference</c> prints <c>RATIO inference_cuda_pinned_vs_pageable_input</c>); ignored
    /// on the CPU. Where the allocator is missing the classifier uses the array and <see cref="OnnxImageClassifier.HostMemory"/> says why.
    /// </summary>
    public bool CudaPinnedInput { get; init; }

    /// <summary>Parallelise preprocessing of a batch across cores.</summary>
    public bool ParallelPreprocessing { get; init; } = true;

    /// <summary>The intra-op thread count a run gets.</summary>
    public int ResolveIntraOpThreads() =>
        IntraOpThreads > 0 ? IntraOpThreads : Math.Max(1, Environment.ProcessorCount / Math.Max(1, ConcurrentRuns));

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(IntraOpThreads);
        ArgumentOutOfRangeException.ThrowIfNegative(CudaDeviceId);
        ArgumentOutOfRangeException.ThrowIfNegative(ConcurrentRuns);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBatchSize, 1);
        if (BatchBuckets is { } buckets && (buckets.Count == 0 || buckets.Any(b => b < 1 || b > MaxBatchSize)))
            throw new ArgumentException($"batch buckets must lie in 1..{MaxBatchSize}", nameof(BatchBuckets));
    }
}
