using Microsoft.Extensions.Logging;
using Moderation.Streams.Inference;

namespace Moderation.Streams.Worker;

/// <summary>Loads the worker's classifier from <see cref="ScreeningOptions"/> + <see cref="InferenceOptions"/>, saying when it runs other than asked.</summary>
public static class InferenceSetup
{
    /// <summary>The build carries the CPU-only ONNX Runtime (no CUDA execution provider compiled in; the GPU build lists
    /// it even on a machine without a GPU).</summary>
    public static bool CpuOnlyBuild => OnnxImageClassifier.IsCpuOnlyBuild;

    /// <summary>Whether ONNX Runtime's provider list is a CPU-only build's.</summary>
    public static bool IsCpuOnly(IReadOnlyList<string> providers) => !providers.Contains("CUDAExecutionProvider");

    /// <exception cref="ExecutionProviderUnavailableException"><c>Inference:Device=cuda</c> and CUDA cannot be used.</exception>
    /// <exception cref="ArgumentException">Unknown model, or <c>Inference:Precision=fp16</c> or <c>int8</c> for a model without that variant.</exception>
    public static OnnxImageClassifier LoadClassifier(ScreeningOptions screening, InferenceOptions inference, ILogger logger)
    {
        var classifier = OnnxImageClassifier.Load(screening.Model, screening.ModelsDirectory, inference.Classifier());
        if (classifier.DeviceFallbackReason is { } reason)
        {
            // A CPU-only build cannot run CUDA by construction: Device=auto means the CPU there, nothing to warn about.
            // A GPU build that ends on the CPU is what the warning is for (a node without a GPU, CUDA libraries missing).
            if (!CpuOnlyBuild)
                logger.LogWarning("Inference:Device=auto: CUDA is not usable, running {Model} on the CPU ({Reason})", classifier.Model.VersionedName, reason);
            else if (inference.Precision == InferencePrecision.Fp16)
                logger.LogWarning("Inference:Precision=fp16 is for CUDA and this build carries the CPU-only ONNX Runtime: {Model} runs in float32", classifier.Model.VersionedName);
            else
                logger.LogDebug("Inference:Device=auto on a CPU-only build: running {Model} on the CPU", classifier.Model.VersionedName);
        }
        else if (classifier.Precision == InferencePrecision.Fp16 && !classifier.IsCuda)
            logger.LogWarning("Inference:Precision=fp16 on the CPU: {Model} runs slower than fp32 there (meant for parity checks)", classifier.Model.VersionedName);
        return classifier;
    }
}
