namespace Moderation.Streams.Cli.Commands.Bench;

/// <summary>Collects measured ratios and prints them last, one <c>RATIO name value goal goal</c> line each.</summary>
internal sealed class BenchReport
{
    private readonly List<(string Name, double Value, double Goal)> _ratios = [];

    public void Ratio(string name, double value, double goal) => _ratios.Add((name, value, goal));

    /// <summary>The <paramref name="q"/> quantile of <paramref name="values"/> (the nearest rank of the sorted values;
    /// NaN for none), as every bench reports its p50 and p99.</summary>
    public static double Percentile(IEnumerable<double> values, double q)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[(int)Math.Round(q * (sorted.Length - 1))];
    }

    /// <summary>Prints the ratio lines; returns 0 (a missed goal is reported, not a failure of the run).</summary>
    public int Print(TextWriter output)
    {
        foreach (var (name, value, goal) in _ratios)
            output.WriteLine(FormattableString.Invariant($"RATIO {name} {value:0.###} goal {goal:0.###}"));
        return ExitCodes.Ok;
    }
}
