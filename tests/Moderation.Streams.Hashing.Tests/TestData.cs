using Moderation.Streams.Media;

namespace Moderation.Streams.Hashing.Tests;

/// <summary>Locates the shared PDQ vectors (<c>&lt;repo&gt;/../shared/pdq-vectors</c>) and reads their CSVs.</summary>
internal static class TestData
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Vectors { get; } = Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "pdq-vectors"));

    public static string VectorPath(params string[] parts) => Path.Combine([Vectors, .. parts]);

    /// <summary>Files committed next to the tests (copied to the output folder).</summary>
    public static string LocalPath(params string[] parts) => Path.Combine([AppContext.BaseDirectory, .. parts]);

    /// <summary>Rows of a CSV with a header line, as column-name → value dictionaries.</summary>
    public static IReadOnlyList<IReadOnlyDictionary<string, string>> ReadCsv(string path)
    {
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToArray();
        var header = lines[0].Split(',');
        return lines.Skip(1)
            .Select(l => (IReadOnlyDictionary<string, string>)header.Zip(l.Split(',')).ToDictionary(p => p.First, p => p.Second))
            .ToList();
    }

    // The reference hasher reads the stored pixels (no EXIF orientation), as the hash verb does.
    public static PdqResult HashFile(PdqHasher hasher, string path)
    {
        var image = ImageDecoder.DecodeFile(path, orientation: ImageOrientation.AsStored);
        return hasher.Hash(image.Pixels, image.Width, image.Height, image.Channels);
    }

    public static PdqDihedral HashFileDihedral(PdqHasher hasher, string path)
    {
        var image = ImageDecoder.DecodeFile(path, orientation: ImageOrientation.AsStored);
        return hasher.HashDihedral(image.Pixels, image.Width, image.Height, image.Channels);
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Moderation.Streams.sln"))) return dir.FullName;
        throw new InvalidOperationException($"Moderation.Streams.sln not found above {AppContext.BaseDirectory}");
    }
}
