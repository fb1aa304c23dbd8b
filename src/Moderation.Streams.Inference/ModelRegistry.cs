namespace Moderation.Streams.Inference;

/// <summary>The models this build knows, by name (<c>Screening:Model</c>, <c>--model</c>).</summary>
public static class ModelRegistry
{
    /// <summary>nsfwjs 4.4.0 MobileNetV2 (MIT), converted from its TF.js layers model by tools/nsfwjs-convert.</summary>
    public static ModelDescriptor NsfwMobileNetV2 { get; } =
        new("nsfw-mobilenet-v2", 1, "nsfw-mobilenet-v2.onnx", 224, ClassLabels.All)
        {
            Sha256 = "bcd8116a3df2cc9594a109249574db5c76f3b0acc88d84cabcd109a5f76654ef",
            Fp16FileName = "nsfw-mobilenet-v2.fp16.onnx",
            Fp16Sha256 = "1d1442919027cb33b69250edf7d2d7fff585ac84445a18d6ea1e6442ea341565",
            Int8FileName = "nsfw-mobilenet-v2.int8.onnx",
            Int8Sha256 = "74bf1920d57bf100459e5b04456afd1c00dcb0c490766b362f34798b63f29cf2",
            Source = "nsfwjs 4.4.0 mobilenet_v2 (TF.js layers model, MIT)",
        };

    /// <summary>nsfwjs 4.4.0 MobileNetV2Mid (MIT), converted from its TF.js graph model; scales to [-1,1] inside the graph.</summary>
    public static ModelDescriptor NsfwMobileNetV2Mid { get; } =
        new("nsfw-mobilenet-v2-mid", 1, "nsfw-mobilenet-v2-mid.onnx", 224, ClassLabels.All)
        {
            Sha256 = "80544b486750037196a0a4925bf671834f3ac3713acb4117854ffb605b7a6872",
            Fp16FileName = "nsfw-mobilenet-v2-mid.fp16.onnx",
            Fp16Sha256 = "5659aadb409c32e8acd4c11abe89f4609d8f41070acd8f9e7ef7601de50035fa",
            Int8FileName = "nsfw-mobilenet-v2-mid.int8.onnx",
            Int8Sha256 = "5cd88991bfc3d569f75c79eda2f9dd0a6a26a75b9541915913780a36ccb011d1",
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
            Sha256 = "baa20dd2d6d4f172386be0ad83c7218906db6028171d9253da74c97ae564277c",
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

    /// <summary>Why <paramref name="name"/> cannot run at <paramref name="precision"/> (an unknown model, or float16 or int8
    /// asked of a model without that variant), as <see cref="DescribeUnknown"/> or <see cref="DescribeNoVariant"/> say it; null when it can.</summary>
    public static string? DescribeUnusable(string name, InferencePrecision precision) =>
        !TryGet(name, out var model) ? DescribeUnknown(name)
        : model.VariantFileName(precision) is null ? DescribeNoVariant(name, precision)
        : null;

    /// <summary>The error text for a variant asked of a model without it (<see cref="DescribeNoFp16"/> for float16).</summary>
    public static string DescribeNoVariant(string name, InferencePrecision precision) => precision switch
    {
        InferencePrecision.Int8 => DescribeNoInt8(name),
        _ => DescribeNoFp16(name),
    };

    /// <summary>The error text for int8 asked of a model without an int8 variant: it lists the models that have one.</summary>
    public static string DescribeNoInt8(string name) =>
        $"model '{name}' has no int8 variant in this build (Inference:Precision=int8); models with one: " +
        $"{string.Join(", ", All.Where(m => m.Int8FileName is not null).Select(m => m.Name))}. " +
        $"tools/nsfwjs-convert/to_int8.py makes one from the float32 file; register it as the model's Int8FileName.";

    /// <summary>The error text for float16 asked of a model without a float16 variant: it lists the models that have one.</summary>
    public static string DescribeNoFp16(string name) =>
        $"model '{name}' has no fp16 variant in this build (Inference:Precision=fp16); models with one: " +
        $"{string.Join(", ", All.Where(m => m.Fp16FileName is not null).Select(m => m.Name))}. " +
        $"tools/nsfwjs-convert/to_fp16.py makes one from the float32 file; register it as the model's Fp16FileName.";
}
