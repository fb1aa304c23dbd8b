namespace Moderation.Streams.Inference;

/// <summary>The models this build knows, by name (<c>Screening:Model</c>, <c>--model</c>).</summary>
public static class ModelRegistry
{
    /// <summary>nsfwjs 4.4.0 MobileNetV2 (MIT), converted from its TF.js layers model by tools/nsfwjs-convert.</summary>
    public static ModelDescriptor NsfwMobileNetV2 { get; } =
        new("nsfw-mobilenet-v2", 1, "nsfw-mobilenet-v2.onnx", 224, ClassLabels.All)
        {
            Fp16FileName = "nsfw-mobilenet-v2.fp16.onnx",
            Source = "nsfwjs 4.4.0 mobilenet_v2 (TF.js layers model, MIT)",
        };

    /// <summary>nsfwjs 4.4.0 MobileNetV2Mid (MIT), converted from its TF.js graph model; scales to [-1,1] inside the graph.</summary>
    public static ModelDescriptor NsfwMobileNetV2Mid { get; } =
        new("nsfw-mobilenet-v2-mid", 1, "nsfw-mobilenet-v2-mid.onnx", 224, ClassLabels.All)
        {
            Fp16FileName = "nsfw-mobilenet-v2-mid.fp16.onnx",
            Source = "nsfwjs 4.4.0 mobilenet_v2_mid (TF.js graph model, MIT)",
        };

    /// <summary>
    /// nsfwjs 4.4.0 InceptionV3 (MIT), 299×299, converted from its TF.js layers model. No float16 variant is
    /// committed (it would add another 22.6 MB: the uint8 weight codes dominate the file and stay as they are);
    /// tools/nsfwjs-convert/to_fp16.py makes one on demand.
    /// </summary>
    public static ModelDescriptor NsfwInceptionV3 { get; } =
        new("nsfw-inception-v3", 1, "nsfw-inception-v3.onnx", 299, ClassLabels.All)
        {
            Source = "nsfwjs 4.4.0 inception_v3 (TF.js layers model, MIT)",
        };

    public const string DefaultModelName = "nsfw-mobilenet-v2";

    public static IReadOnlyList<ModelDescriptor> All { get; } = [NsfwMobileNetV2, NsfwMobileNetV2Mid, NsfwInceptionV3];

    public static bool TryGet(string name, out ModelDescriptor model)
    {
        foreach (var candidate in All)
        {
            if (string.Equals(candidate.Name, name, StringComparison.Ordinal))
            {
                model = candidate;
                return true;
            }
        }
        model = null!;
        return false;
    }

    /// <exception cref="ArgumentException">The name is not a known model; the message lists the known ones.</exception>
    public static ModelDescriptor Get(string name) =>
        TryGet(name, out var model) ? model : throw new ArgumentException(DescribeUnknown(name), nameof(name));

    /// <summary>The error text for an unknown model name: it lists the names that are known.</summary>
    public static string DescribeUnknown(string name) =>
        $"unknown model '{name}'; known models: {string.Join(", ", All.Select(m => m.Name))}";

    /// <summary>Why <paramref name="name"/> cannot run at <paramref name="precision"/> (an unknown model, or float16 asked of a
    /// model without a float16 variant), as <see cref="DescribeUnknown"/> or <see cref="DescribeNoFp16"/> say it; null when it can.</summary>
    public static string? DescribeUnusable(string name, InferencePrecision precision) =>
        !TryGet(name, out var model) ? DescribeUnknown(name)
        : precision == InferencePrecision.Fp16 && model.Fp16FileName is null ? DescribeNoFp16(name)
        : null;

    /// <summary>The error text for float16 asked of a model without a float16 variant: it lists the models that have one.</summary>
    public static string DescribeNoFp16(string name) =>
        $"model '{name}' has no fp16 variant in this build (Inference:Precision=fp16); models with one: " +
        $"{string.Join(", ", All.Where(m => m.Fp16FileName is not null).Select(m => m.Name))}. " +
        $"tools/nsfwjs-convert/to_fp16.py makes one from the float32 file; register it as the model's Fp16FileName.";
}
