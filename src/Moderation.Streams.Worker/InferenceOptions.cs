using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Inference;

namespace Moderation.Streams.Worker;

/// <summary>Inference settings (configuration section <c>Inference</c>): execution provider and dynamic batching.</summary>
public sealed class InferenceOptions
{
    /// <summary><c>auto</c> (CUDA when usable, else the CPU with a warning), <c>cuda</c> (or refuse to start), <c>cpu</c>.</summary>
    public InferenceDevice Device { get; set; } = InferenceDevice.Auto;

    /// <summary>
    /// <c>fp32</c>, or <c>fp16</c>: the model's float16 variant, for CUDA (scores move by up to ~1e-2; decisions and the
    /// decision cache carry <c>name@1+fp16</c>). <c>auto</c> that falls back to the CPU runs fp32 and says so; <c>cpu</c>
    /// runs fp16 as asked, slower than fp32. A model without a float16 variant refuses to start.
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
}

/// <summary>Loads the classifier and builds the batcher from <see cref="ScreeningOptions"/> + <see cref="InferenceOptions"/>.</summary>
public static class InferenceSetup
{
    /// <exception cref="ExecutionProviderUnavailableException"><c>Inference:Device=cuda</c> and CUDA cannot be used.</exception>
    /// <exception cref="ArgumentException">Unknown model, or <c>Inference:Precision=fp16</c> for a model without a float16 variant.</exception>
    public static OnnxImageClassifier LoadClassifier(ScreeningOptions screening, InferenceOptions inference, ILogger logger)
    {
        var classifier = OnnxImageClassifier.Load(screening.Model, screening.ModelsDirectory, new ClassifierOptions
        {
            Device = inference.Device,
            Precision = inference.Precision,
            CudaDeviceId = inference.CudaDeviceId,
            MaxBatchSize = inference.MaxBatchSize,
            // 0: settled by the device that runs (2 on CUDA, 1 on the CPU, also after an auto fallback).
            ConcurrentRuns = inference.ConcurrentBatches,
            IntraOpThreads = inference.IntraOpThreads,
            CudaPinnedInput = inference.CudaPinnedInput,
        });
        if (classifier.DeviceFallbackReason is { } reason)
            logger.LogWarning("Inference:Device=auto: CUDA is not usable, running {Model} on the CPU ({Reason})", classifier.Model.VersionedName, reason);
        else if (classifier.Precision == InferencePrecision.Fp16 && !classifier.IsCuda)
            logger.LogWarning("Inference:Precision=fp16 on the CPU: {Model} runs slower than fp32 there (meant for parity checks)", classifier.Model.VersionedName);
        return classifier;
    }

    public static DynamicBatcher CreateBatcher(OnnxImageClassifier classifier, InferenceOptions inference, TimeProvider? time = null) =>
        new(classifier, new DynamicBatcherOptions
        {
            MaxBatchSize = inference.MaxBatchSize,
            MaxQueueDelay = TimeSpan.FromMilliseconds(inference.MaxQueueDelayMs),
            MaxQueued = inference.MaxQueued,
            // on the CPU one concurrent run; on CUDA two, unless configured
            ConcurrentBatches = classifier.Options.ConcurrentRuns,
        }, time);
}
