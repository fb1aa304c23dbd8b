using System.ComponentModel.DataAnnotations;

namespace Moderation.Streams.Inference;

/// <summary>Inference settings (configuration section <c>Inference</c>), bound directly: execution provider and dynamic batching.</summary>
public sealed class InferenceOptions
{
    /// <summary><c>auto</c> (CUDA when usable, else the CPU with a warning), <c>cuda</c> (or refuse to start), <c>cpu</c>.</summary>
    public InferenceDevice Device { get; set; } = InferenceDevice.Auto;

    /// <summary>
    /// <c>fp32</c>, or <c>fp16</c>: the model's float16 variant, for CUDA (scores move by up to ~1e-2; decisions and the
    /// decision cache carry <c>name@1+fp16</c>). <c>auto</c> that falls back to the CPU runs fp32 and says so; <c>cpu</c>
    /// runs fp16 as asked, slower than fp32. <c>int8</c>: the model's int8 (QDQ) variant, for the CPU (faster there; scores
    /// move more, see models/MODEL_CARD.md; <c>name@1+int8</c>); it always runs on the CPU and refuses <c>cuda</c>. A model
    /// without the asked variant refuses to start.
    /// </summary>
    public InferencePrecision Precision { get; set; } = InferencePrecision.Fp32;

    [Range(0, 64)]
    public int CudaDeviceId { get; set; }

    /// <summary>A batch runs as soon as it holds this many images.</summary>
    [Range(1, 1024)]
    public int MaxBatchSize { get; set; } = 16;

    /// <summary>Longest time the first image of a batch waits for others.</summary>
    [Range(0, 1000)]
    public int MaxQueueDelayMs { get; set; } = 5;

    /// <summary>Images waiting for inference before callers are made to wait (backpressure).</summary>
    [Range(1, 100_000)]
    public int MaxQueued { get; set; } = 512;

    /// <summary>Batches run at once; 0 = 2 on CUDA (one copies while one computes), 1 on the CPU (one run uses every core).</summary>
    [Range(0, 64)]
    public int ConcurrentBatches { get; set; }

    /// <summary>On CUDA, preprocess into page-locked host memory (faster copies to the GPU; not yet measured on one, so off).</summary>
    public bool CudaPinnedInput { get; set; }

    /// <summary>CPU threads per run; 0 = cores / concurrent batches.</summary>
    [Range(0, 1024)]
    public int IntraOpThreads { get; set; }

    /// <summary>How the classifier runs the model: these settings as <see cref="OnnxImageClassifier"/> takes them
    /// (<see cref="ConcurrentBatches"/> 0 is settled by the device that runs: 2 on CUDA, 1 on the CPU).</summary>
    public ClassifierOptions Classifier() => new()
    {
        Device = Device,
        Precision = Precision,
        CudaDeviceId = CudaDeviceId,
        MaxBatchSize = MaxBatchSize,
        ConcurrentRuns = ConcurrentBatches,
        IntraOpThreads = IntraOpThreads,
        CudaPinnedInput = CudaPinnedInput,
    };

    /// <summary>How the batcher gathers images: these settings as <see cref="DynamicBatcher"/> takes them, with the
    /// concurrent runs the classifier settled on (<see cref="ClassifierOptions.ConcurrentRuns"/>).</summary>
    public DynamicBatcherOptions Batcher(int concurrentRuns) => new()
    {
        MaxBatchSize = MaxBatchSize,
        MaxQueueDelay = TimeSpan.FromMilliseconds(MaxQueueDelayMs),
        MaxQueued = MaxQueued,
        ConcurrentBatches = concurrentRuns,
    };
}
