namespace Moderation.Streams.Inference;

/// <summary>
/// The requested execution provider cannot be used (e.g. <c>Inference:Device=cuda</c> on a machine without a
/// usable GPU, CUDA 13 libraries, or with the CPU-only ONNX Runtime build). The message says why and what to do.
/// </summary>
public sealed class ExecutionProviderUnavailableException(string message, Exception? inner = null)
    : Exception(message, inner);
