namespace Moderation.Streams.Inference;

/// <summary>
/// The compute precision of a model (configuration <c>Inference:Precision</c>). Input and output stay float32
/// either way; only the graph between them changes.
/// </summary>
public enum InferencePrecision
{
    /// <summary>The float32 model: scores match the original nsfwjs models within a few 1e-6.</summary>
    Fp32,

    /// <summary>
    /// The model's float16 variant (<see cref="ModelDescriptor.Fp16FileName"/>, made by
    /// tools/nsfwjs-convert/to_fp16.py): meant for CUDA, where float16 kernels are faster. Scores move by up to
    /// ~1e-2 (see models/MODEL_CARD.md) and decisions carry a distinct version (<c>name@1+fp16</c>). With
    /// <see cref="InferenceDevice.Auto"/> ending on the CPU the float32 model runs instead; with
    /// <see cref="InferenceDevice.Cpu"/> the float16 model runs as asked, slower than float32 (ONNX Runtime's
    /// CPU provider computes most float16 nodes through inserted casts) — for parity checks, not for speed.
    /// </summary>
    Fp16,

    /// <summary>
    /// The model's int8 variant (<see cref="ModelDescriptor.Int8FileName"/>, made by tools/nsfwjs-convert/to_int8.py:
    /// static QDQ, uint8 activations calibrated on synthetic images, int8 weights per output channel): for the CPU,
    /// where ONNX Runtime fuses it into QLinearConv kernels (VNNI on CPUs that have it). Scores move more than with
    /// float16 (see models/MODEL_CARD.md) and decisions carry a distinct version (<c>name@1+int8</c>). It always runs
    /// on the CPU provider: <see cref="InferenceDevice.Auto"/> does not try CUDA, <see cref="InferenceDevice.Cuda"/> is refused.
    /// </summary>
    Int8,
}
