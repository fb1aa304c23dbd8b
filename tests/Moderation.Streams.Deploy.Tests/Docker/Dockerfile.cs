using System.Text.RegularExpressions;

namespace Moderation.Streams.Deploy.Tests.Docker;

/// <summary>A Dockerfile as its instructions: continuation lines joined, comments and parser directives dropped.</summary>
public sealed partial class Dockerfile
{
    public sealed record Instruction(int Line, string Keyword, string Arguments, int Stage);

    public string Path { get; }
    public List<Instruction> Instructions { get; } = [];
    public int Stages => Instructions.Count(i => i.Keyword == "FROM");
    public IEnumerable<Instruction> FinalStage => Instructions.Where(i => i.Stage == Stages - 1);

    public Dockerfile(string path)
    {
        Path = path;
        var lines = File.ReadAllLines(path);
        int stage = -1;
        for (int i = 0; i < lines.Length; i++)
        {
            var text = lines[i].Trim();
            if (text.Length == 0 || text.StartsWith('#')) continue;
            int start = i;
            while (text.EndsWith('\\') && i + 1 < lines.Length)
            {
                var next = lines[++i].Trim();
                if (next.StartsWith('#')) continue;
                text = text[..^1].TrimEnd() + " " + next;
            }
            var match = InstructionPattern().Match(text);
            if (!match.Success) throw new InvalidDataException($"{path}:{start + 1}: not an instruction: {text}");
            var keyword = match.Groups[1].Value.ToUpperInvariant();
            if (keyword == "FROM") stage++;
            Instructions.Add(new Instruction(start + 1, keyword, match.Groups[2].Value.Trim(), stage));
        }
    }

    [GeneratedRegex(@"^([A-Za-z]+)\s+(.*)$")]
    private static partial Regex InstructionPattern();

    /// <summary>Build args with defaults declared before the first FROM (usable in FROM lines).</summary>
    public Dictionary<string, string> GlobalArgs() =>
        Instructions.Where(i => i.Keyword == "ARG" && i.Stage < 0 && i.Arguments.Contains('='))
            .Select(i => i.Arguments.Split('=', 2)).ToDictionary(p => p[0], p => p[1].Trim('"'));

    /// <summary>(image, alias) of each FROM, build args substituted.</summary>
    public List<(string Image, string? Alias)> Bases()
    {
        var args = GlobalArgs();
        return Instructions.Where(i => i.Keyword == "FROM").Select(i =>
        {
            var parts = i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(p => !p.StartsWith("--", StringComparison.Ordinal)).ToArray();
            var image = Regex.Replace(parts[0], @"\$\{?(\w+)\}?", m => args.GetValueOrDefault(m.Groups[1].Value, m.Value));
            var alias = parts.Length >= 3 && parts[1].Equals("AS", StringComparison.OrdinalIgnoreCase) ? parts[2] : null;
            return (image, alias);
        }).ToList();
    }

    /// <summary>Sources of COPY instructions that read the build context (not --from=stage).</summary>
    public IEnumerable<(Instruction At, string Source)> ContextCopies() =>
        Instructions.Where(i => i.Keyword is "COPY" or "ADD" && !i.Arguments.Contains("--from=", StringComparison.Ordinal))
            .SelectMany(i =>
            {
                var parts = i.Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(p => !p.StartsWith("--", StringComparison.Ordinal)).ToArray();
                return parts[..^1].Select(source => (i, source));
            });
}
