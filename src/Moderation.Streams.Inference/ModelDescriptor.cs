namespace Moderation.Streams.Inference;

/// <summary>
/// A classifier model: its name and version (recorded with every decision), the ONNX file, the square
/// input side S (input is NHWC float32 [N,S,S,3] in [0,1]) and the labels of its outputs, in order.
/// </summary>
public sealed record ModelDescriptor(string Name, int Version, string FileName, int InputSize, IReadOnlyList<string> Labels)
{
    public string VersionedName => $"{Name}@{Version}";
}

/// <summary>The models this build knows, by name.</summary>
public static class ModelRegistry
{
    /// <summary>nsfwjs 4.4.0 MobileNetV2 (MIT), converted from its TF.js layers model by tools/nsfwjs-convert.</summary>
    public static ModelDescriptor NsfwMobileNetV2 { get; } =
        new("nsfw-mobilenet-v2", 1, "nsfw-mobilenet-v2.onnx", 224, ClassLabels.All);

    public const string DefaultModelName = "nsfw-mobilenet-v2";

    public static IReadOnlyList<ModelDescriptor> All { get; } = [NsfwMobileNetV2];

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
