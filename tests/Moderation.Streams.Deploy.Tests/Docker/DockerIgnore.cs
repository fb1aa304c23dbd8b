using System.Text.RegularExpressions;

namespace Moderation.Streams.Deploy.Tests.Docker;

/// <summary>.dockerignore rules as Docker applies them: Go filepath.Match patterns with "**", a pattern that
/// matches a directory excludes what is under it, "!" re-includes, the last matching rule wins.</summary>
public sealed class DockerIgnore
{
    private readonly List<(Regex Pattern, bool Exclude)> _rules = [];

    public static DockerIgnore Load(string path)
    {
        var ignore = new DockerIgnore();
        foreach (var raw in File.ReadAllLines(path))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            bool exclude = !line.StartsWith('!');
            var pattern = line.TrimStart('!').Trim('/');
            var regex = "^" + string.Concat(Regex.Split(pattern, @"(\*\*/|\*\*|\*|\?)").Select(part => part switch
            {
                "**/" => "(.*/)?",
                "**" => ".*",
                "*" => "[^/]*",
                "?" => "[^/]",
                _ => Regex.Escape(part),
            })) + "(/.*)?$";
            ignore._rules.Add((new Regex(regex), exclude));
        }
        return ignore;
    }

    public bool Excludes(string relativePath)
    {
        bool excluded = false;
        foreach (var (pattern, exclude) in _rules)
            if (pattern.IsMatch(relativePath)) excluded = exclude;
        return excluded;
    }
}
