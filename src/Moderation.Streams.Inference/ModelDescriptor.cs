namespace Moderation.Streams.Inference;

/// <summary>
/// A classifier model: its name and version (recorded with every decision as <see cref="VersionedName"/>),
/// the ONNX file, the square input side S (input is NHWC float32 [N,S,S,3] in [0,1]), the labels of its
/// outputs in order, and how images are prepared for it.
/// </summary>
public sealed record ModelDescriptor(string Name, int Version, string FileName, int InputSize, IReadOnlyList<string> Labels)
{
    public string VersionedName => $"{Name}@{Version}";

    /// <summary>The preprocessing the model expects; every registered model uses <see cref="Preprocessor"/>'s nsfwjs scheme.</summary>
    public string Preprocessing { get; init; } = NsfwjsPreprocessing;

    /// <summary>Where the weights come from.</summary>
    public string Source { get; init; } = "";

    public const string NsfwjsPreprocessing =
        "RGB, v/255, bilinear resize to SxS with align-corners (aspect not kept) when not already SxS, NHWC";
}

/// <summary>The models this build knows, by name (<c>Screening:Model</c>, <c>--model</c>).</summary>
public static class ModelRegistry
{
    /// <summary>nsfwjs 4.4.0 MobileNetV2 (MIT), converted from its TF.js layers model by tools/nsfwjs-convert.</summary>
    public static ModelDescriptor NsfwMobileNetV2 { get; } =
        new("nsfw-mobilenet-v2", 1, "nsfw-mobilenet-v2.onnx", 224, ClassLabels.All)
        {
            Source = "nsfwjs 4.4.0 mobilenet_v2 (TF.js layers model, MIT)",
        };

    /// <summary>nsfwjs 4.4.0 MobileNetV2Mid (MIT), converted from its TF.js graph model; scales to [-1,1] inside the graph.</summary>
    public static ModelDescriptor NsfwMobileNetV2Mid { get; } =
        new("nsfw-mobilenet-v2-mid", 1, "nsfw-mobilenet-v2-mid.onnx", 224, ClassLabels.All)
        {
            Source = "nsfwjs 4.4.0 mobilenet_v2_mid (TF.js graph model, MIT)",
        };

    /// <summary>nsfwjs 4.4.0 InceptionV3 (MIT), 299×299, converted from its TF.js layers model.</summary>
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
}
