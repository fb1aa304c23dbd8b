namespace Moderation.Streams.Inference;

/// <summary>
/// A classifier model: its name and version (recorded with every decision as <see cref="VersionedName"/>),
/// the float32 ONNX file and optionally its float16 variant, the square input side S (input is NHWC float32
/// [N,S,S,3] in [0,1]), the labels of its outputs in order, and how images are prepared for it.
/// </summary>
public sealed record ModelDescriptor(string Name, int Version, string FileName, int InputSize, IReadOnlyList<string> Labels)
{
    /// <summary>
    /// What decisions and the decision cache record: <c>name@version</c>, plus <c>+fp16</c> for the float16
    /// variant, whose scores differ slightly, so float16 and float32 decisions are never mixed up.
    /// </summary>
    public string VersionedName => Precision == InferencePrecision.Fp16 ? $"{Name}@{Version}+fp16" : $"{Name}@{Version}";

    /// <summary>The precision this descriptor runs at; the registry's descriptors are <see cref="InferencePrecision.Fp32"/>.</summary>
    public InferencePrecision Precision { get; init; } = InferencePrecision.Fp32;

    /// <summary>
    /// The float16-compute variant of <see cref="FileName"/> (float32 input and output, same shapes), made from it by
    /// tools/nsfwjs-convert/to_fp16.py; null when the build has none.
    /// </summary>
    public string? Fp16FileName { get; init; }

    /// <summary>SHA-256 (lower-case hex) of the committed <see cref="FileName"/>: <c>moderation doctor</c> and the worker's
    /// start check the file against it, since decisions record <see cref="VersionedName"/>, not the file.</summary>
    public string? Sha256 { get; init; }

    /// <summary>SHA-256 of the committed <see cref="Fp16FileName"/>.</summary>
    public string? Fp16Sha256 { get; init; }

    /// <summary>The expected SHA-256 of <see cref="ModelFileName"/>; null when the registry records none.</summary>
    public string? ModelSha256 => Precision == InferencePrecision.Fp16 ? Fp16Sha256 : Sha256;

    /// <summary>The file <see cref="Precision"/> runs: <see cref="FileName"/> or <see cref="Fp16FileName"/>.</summary>
    public string ModelFileName => Precision == InferencePrecision.Fp16
        ? Fp16FileName ?? throw new InvalidOperationException($"{Name}: float16 descriptor without a float16 file")
        : FileName;

    /// <summary>This model at <paramref name="precision"/>.</summary>
    /// <exception cref="ArgumentException">Float16 asked for and the model has no float16 variant (the message lists the models that have one).</exception>
    public ModelDescriptor WithPrecision(InferencePrecision precision)
    {
        if (precision == Precision) return this;
        if (precision == InferencePrecision.Fp16 && Fp16FileName is null)
            throw new ArgumentException(ModelRegistry.DescribeNoFp16(Name), nameof(precision));
        return this with { Precision = precision };
    }

    /// <summary>The preprocessing the model expects; every registered model uses <see cref="Preprocessor"/>'s nsfwjs scheme.</summary>
    public string Preprocessing { get; init; } = NsfwjsPreprocessing;

    /// <summary>Where the weights come from.</summary>
    public string Source { get; init; } = "";

    public const string NsfwjsPreprocessing =
        "RGB, v/255, bilinear resize to SxS with align-corners (aspect not kept) when not already SxS, NHWC";
}
