using System.Text.Json;
using Moderation.Streams.Media;

namespace Moderation.Streams.Inference.Tests;

/// <summary>The parity images and the original nsfwjs model's scores for them (see data/README.md).</summary>
internal static class TestData
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string DataDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "data");

    /// <summary>The original models' scores, keyed by our model name (see data/README.md).</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<ReferenceImage>> ReferenceByModel { get; } = LoadReference();

    /// <summary>The default model's reference scores.</summary>
    public static IReadOnlyList<ReferenceImage> Reference => ReferenceByModel[ModelRegistry.DefaultModelName];

    public static DecodedImage Decode(ReferenceImage image) =>
        ImageDecoder.DecodeFile(Path.Combine(DataDirectory, "images", image.File));

    public static IEnumerable<TheoryDataRow<string>> ReferenceFiles() =>
        Reference.Select(r => new TheoryDataRow<string>(r.File));

    public static ReferenceImage ReferenceFor(string file) => Reference.Single(r => r.File == file);

    private static IReadOnlyDictionary<string, IReadOnlyList<ReferenceImage>> LoadReference()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(DataDirectory, "nsfwjs-reference.json")));
        var labels = json.RootElement.GetProperty("labels").EnumerateArray().Select(l => l.GetString()!).ToArray();
        if (!labels.SequenceEqual(ClassLabels.All))
            throw new InvalidDataException($"reference labels {string.Join(",", labels)} differ from {string.Join(",", ClassLabels.All)}");
        return json.RootElement.GetProperty("models").EnumerateArray().ToDictionary(
            m => m.GetProperty("name").GetString()!,
            m => (IReadOnlyList<ReferenceImage>)m.GetProperty("images").EnumerateArray()
                .Select(e => new ReferenceImage(
                    e.GetProperty("file").GetString()!,
                    e.GetProperty("width").GetInt32(),
                    e.GetProperty("height").GetInt32(),
                    e.GetProperty("scores").EnumerateArray().Select(s => s.GetSingle()).ToArray(),
                    e.GetProperty("top").GetString()!))
                .ToArray());
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Moderation.Streams.sln"))) return dir.FullName;
        throw new InvalidOperationException($"Moderation.Streams.sln not found above {AppContext.BaseDirectory}");
    }
}

internal sealed record ReferenceImage(string File, int Width, int Height, float[] Scores, string Top);
