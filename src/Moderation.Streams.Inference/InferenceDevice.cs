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
