using Moderation.Streams.Contracts;

namespace Moderation.Streams.Evaluation;

/// <summary>
/// A labelled evaluation set: a CSV of <c>path,label</c> rows (paths relative to the CSV; an optional
/// <c>path,label</c> header; <c>#</c> comments) or a folder with one sub-folder per label. Labels are the five
/// classes (<c>drawing, hentai, neutral, porn, sexy</c>) or <c>safe</c>/<c>unsafe</c> — one kind per set.
/// </summary>
public sealed class LabelledSet
{
    public const string Safe = "safe";
    public const string Unsafe = "unsafe";
    private static readonly string[] ImageExtensions = [".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"];

    private LabelledSet(IReadOnlyList<LabelledImage> images, LabelMode mode, string source)
    {
        Images = images;
        Mode = mode;
        Source = source;
    }

    public IReadOnlyList<LabelledImage> Images { get; }
    public LabelMode Mode { get; }
    public string Source { get; }

    /// <summary>The labels a report lists, in a stable order.</summary>
    public IReadOnlyList<string> Labels => Mode == LabelMode.Binary ? [Safe, Unsafe] : Policy.KnownLabels;

    /// <summary>Largest labels file read (about a million rows); only a regular file is read at all.</summary>
    public const long MaxLabelsFileBytes = 256L * 1024 * 1024;

    /// <exception cref="InvalidDataException">A row is malformed or a label unknown, or the kinds are mixed; the message names the line.</exception>
    public static LabelledSet Load(string path)
    {
        if (Directory.Exists(path)) return FromFolder(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such labels file or folder", path);
        var root = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        var images = new List<LabelledImage>();
        int lineNumber = 0;
        string text;
        try
        {
            text = RegularFile.ReadAllText(path, MaxLabelsFileBytes);
        }
        catch (ModerationException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
        using var lines = new StringReader(text);
        for (string? raw; (raw = lines.ReadLine()) is not null;)
        {
            lineNumber++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            int comma = line.LastIndexOf(',');
            if (comma <= 0) throw new InvalidDataException($"{path}: line {lineNumber}: expected 'path,label', got '{Truncate(line)}'");
            var file = line[..comma].Trim().Trim('"');
            var label = line[(comma + 1)..].Trim().ToLowerInvariant();
            if (lineNumber == 1 && file.Equals("path", StringComparison.OrdinalIgnoreCase) && label == "label") continue;
            images.Add(new LabelledImage(System.IO.Path.GetFullPath(System.IO.Path.Combine(root, file)), label, lineNumber));
        }
        return Create(images, path);
    }

    /// <summary>Builds a set from rows already in memory (tests, tools).</summary>
    public static LabelledSet Create(IReadOnlyList<LabelledImage> images, string source)
    {
        if (images.Count == 0) throw new InvalidDataException($"{source}: no labelled images");
        bool binary = images[0].Label is Safe or Unsafe;
        foreach (var image in images)
        {
            bool known = binary ? image.Label is Safe or Unsafe : Policy.KnownLabels.Contains(image.Label);
            if (!known)
            {
                var expected = binary ? "safe or unsafe (the first row is binary)" : $"one of {string.Join(", ", Policy.KnownLabels)} (or all rows safe/unsafe)";
                throw new InvalidDataException($"{source}: {(image.Line > 0 ? $"line {image.Line}" : image.Path)}: label '{Truncate(image.Label)}' must be {expected}");
            }
        }
        return new LabelledSet(images, binary ? LabelMode.Binary : LabelMode.Classes, source);
    }

    private static LabelledSet FromFolder(string folder)
    {
        var images = new List<LabelledImage>();
        foreach (var sub in Directory.GetDirectories(folder).Order(StringComparer.Ordinal))
        {
            var label = System.IO.Path.GetFileName(sub).ToLowerInvariant();
            foreach (var file in Directory.GetFiles(sub).Where(f => ImageExtensions.Contains(System.IO.Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal))
                images.Add(new LabelledImage(System.IO.Path.GetFullPath(file), label, 0));
        }
        return Create(images, folder);
    }

    private static string Truncate(string s) => s.Length > 80 ? s[..80] + "…" : s;
}
