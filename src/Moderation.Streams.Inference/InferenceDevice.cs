namespace Moderation.Streams.Inference;

/// <summary>Where inference should run (configuration <c>Inference:Device</c>).</summary>
public enum InferenceDevice
{
    /// <summary>CUDA when it works on this machine, otherwise the CPU, loudly (log, metric, health detail).</summary>
    Auto,

    /// <summary>The CUDA execution provider or nothing: loading fails with <see cref="ExecutionProviderUnavailableException"/>.</summary>
    Cuda,

    /// <summary>The CPU execution provider.</summary>
    Cpu,
}

/// <summary>
/// The requested execution provider cannot be used (e.g. <c>Inference:Device=cuda</c> on a machine without a
/// usable GPU, CUDA 13 libraries, or with the CPU-only ONNX Runtime build). The message says why and what to do.
/// </summary>
public sealed class ExecutionProviderUnavailableException(string message, Exception? inner = null)
    : Exception(message, inner);
