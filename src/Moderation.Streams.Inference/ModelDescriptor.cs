namespace Moderation.Streams.Inference;

/// <summary>
/// A classifier model: its name and version (recorded with every decision as <see cref="VersionedName"/>),
/// the float32 ONNX file and optionally its float16 and int8 variants, the square input side S (input is NHWC float32
/// [N,S,S,3] in [0,1]), the labels of its outputs in order, and how images are prepared for it.
/// </summary>
public sealed record ModelDescriptor(string Name, int Version, string FileName, int InputSize, IReadOnlyList<string> Labels)
{
    /// <summary>
    /// What decisions and the decision cache record: <c>name@version</c>, plus <c>+fp16</c> for the float16
    /// variant and <c>+int8</c> for the int8 one, whose scores differ, so their decisions are never mixed up with
    /// float32 ones.
    /// </summary>
    public string VersionedName => Precision switch
    {
        InferencePrecision.Fp16 => $"{Name}@{Version}+fp16",
        InferencePrecision.Int8 => $"{Name}@{Version}+int8",
        _ => $"{Name}@{Version}",
    };

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

    /// <summary>
    /// The int8 (static QDQ) variant of <see cref="FileName"/> (float32 input and output, same shapes), made from it by
    /// tools/nsfwjs-convert/to_int8.py; null when the build has none.
    /// </summary>
    public string? Int8FileName { get; init; }

    /// <summary>SHA-256 of the committed <see cref="Int8FileName"/>.</summary>
    public string? Int8Sha256 { get; init; }

    /// <summary>The expected SHA-256 of <see cref="ModelFileName"/>; null when the registry records none.</summary>
    public string? ModelSha256 => Precision switch
    {
        InferencePrecision.Fp16 => Fp16Sha256,
        InferencePrecision.Int8 => Int8Sha256,
        _ => Sha256,
    };

    /// <summary>The file <see cref="Precision"/> runs: <see cref="FileName"/>, <see cref="Fp16FileName"/> or <see cref="Int8FileName"/>.</summary>
    public string ModelFileName => Precision switch
    {
        InferencePrecision.Fp16 => Fp16FileName ?? throw new InvalidOperationException($"{Name}: float16 descriptor without a float16 file"),
        InferencePrecision.Int8 => Int8FileName ?? throw new InvalidOperationException($"{Name}: int8 descriptor without an int8 file"),
        _ => FileName,
    };

    /// <summary>The file of this model's variant at <paramref name="precision"/>; null when the build has none.</summary>
    public string? VariantFileName(InferencePrecision precision) => precision switch
    {
        InferencePrecision.Fp16 => Fp16FileName,
        InferencePrecision.Int8 => Int8FileName,
        _ => FileName,
    };

    /// <summary>This model at <paramref name="precision"/>.</summary>
    /// <exception cref="ArgumentException">A variant asked for that the model does not have (the message lists the models that have one).</exception>
    public ModelDescriptor WithPrecision(InferencePrecision precision)
    {
        if (precision == Precision) return this;
        if (VariantFileName(precision) is null)
            throw new ArgumentException(ModelRegistry.DescribeNoVariant(Name, precision), nameof(precision));
        return this with { Precision = precision };
    }

    /// <summary>The preprocessing the model expects; every registered model uses <see cref="Preprocessor"/>'s nsfwjs scheme.</summary>
    public string Preprocessing { get; init; } = NsfwjsPreprocessing;

    /// <summary>Where the weights come from.</summary>
    public string Source { get; init; } = "";

    public const string NsfwjsPreprocessing =
        "RGB, v/255, bilinear resize to SxS with align-corners (aspect not kept) when not already SxS, NHWC";
}
