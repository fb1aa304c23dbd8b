using Microsoft.Extensions.Logging;
using Moderation.Streams.Inference;

namespace Moderation.Streams.Worker;

/// <summary>Loads the worker's classifier from <see cref="ScreeningOptions"/> + <see cref="InferenceOptions"/>, saying when it runs other than asked.</summary>
public static class InferenceSetup
{
    /// <exception cref="ExecutionProviderUnavailableException"><c>Inference:Device=cuda</c> and CUDA cannot be used.</exception>
    /// <exception cref="ArgumentException">Unknown model, or <c>Inference:Precision=fp16</c> or <c>int8</c> for a model without that variant.</exception>
    public static OnnxImageClassifier LoadClassifier(ScreeningOptions screening, InferenceOptions inference, ILogger logger)
    {
        var classifier = OnnxImageClassifier.Load(screening.Model, screening.ModelsDirectory, inference.Classifier());
        if (classifier.DeviceFallbackReason is { } reason)
            logger.LogWarning("Inference:Device=auto: CUDA is not usable, running {Model} on the CPU ({Reason})", classifier.Model.VersionedName, reason);
        else if (classifier.Precision == InferencePrecision.Fp16 && !classifier.IsCuda)
            logger.LogWarning("Inference:Precision=fp16 on the CPU: {Model} runs slower than fp32 there (meant for parity checks)", classifier.Model.VersionedName);
        return classifier;
    }
}
