using System.Diagnostics;
using Moderation.Streams.Hashing;

namespace Moderation.Streams.Cli.Commands.Bench;

/// <summary>
/// <c>bench pdq --reference PATH</c>: Meta's <c>pdq-photo-hasher</c> and our <c>moderation hash</c>, each run as a
/// process on the same files (all of them in one command line, so each side pays its start-up once), pinned to one
/// core with <c>taskset</c>, alternating, <c>--repeat</c> times; the median run of each side counts. Wall time from
/// the process start to its exit, output read to the end. Both outputs must hash every file; the bits between the
/// two hashes of each file are printed (upstream's porting rule: at most 10 on JPEGs of quality &gt;= 80).
/// </summary>
internal static class ReferenceRun
{
    /// <summary>The ratio reference seconds / our seconds (median runs), or null after an error line.</summary>
    public static double? Compare(string referenceBinary, IReadOnlyList<byte[]> jpegs, int repeat, int core, TextWriter output)
    {
        var folder = Directory.CreateTempSubdirectory("bench-pdq-");
        try
        {
            var files = new List<string>();
            for (int i = 0; i < jpegs.Count; i++)
            {
                var path = Path.Combine(folder.FullName, $"photo-{i:000}.jpg");
                File.WriteAllBytes(path, jpegs[i]);
                files.Add(path);
            }

            var taskset = FindOnPath("taskset");
            var ours = OurHash();
            string pin = taskset is null ? "not pinned (taskset not found on PATH)" : $"pinned to core {core} (taskset -c {core})";
            output.WriteLine($"side by side: {files.Count} JPEGs of 1080x1920 in one command line each, {pin}, {repeat} runs each, alternating, median run");
            output.WriteLine($"  reference: {referenceBinary}");
            output.WriteLine($"  ours:      {string.Join(' ', ours)} hash");

            var referenceTimes = new List<double>();
            var ourTimes = new List<double>();
            List<string>? referenceLines = null, ourLines = null;
            for (int run = 0; run < repeat; run++)
            {
                // Alternate which side goes first, so a slow start of the machine does not land on one side only.
                foreach (bool reference in run % 2 == 0 ? new[] { true, false } : [false, true])
                {
                    string[] command = reference ? [referenceBinary] : [.. ours, "hash"];
                    string who = reference ? "reference" : "moderation hash";
                    double seconds;
                    int exit;
                    List<string> lines;
                    string error;
                    try
                    {
                        (seconds, exit, lines, error) = Time(taskset, core, command, files);
                    }
                    catch (System.ComponentModel.Win32Exception e)
                    {
                        Console.Error.WriteLine($"moderation bench pdq: could not start the {who}: {e.Message}");
                        return null;
                    }
                    if (exit != 0 || lines.Count != files.Count)
                    {
                        Console.Error.WriteLine($"moderation bench pdq: {who} exited {exit} with {lines.Count} lines for {files.Count} files: {error.Trim().ReplaceLineEndings(" ")}");
                        return null;
                    }
                    (reference ? referenceTimes : ourTimes).Add(seconds);
                    if (reference) referenceLines = lines;
                    else ourLines = lines;
                }
            }

            var distances = new List<int>();
            for (int i = 0; i < files.Count; i++)
            {
                if (!TryHash(referenceLines![i], files[i], out var expected) || !TryHash(ourLines![i], files[i], out var actual))
                {
                    Console.Error.WriteLine($"moderation bench pdq: unexpected output for {files[i]}: reference \"{referenceLines![i]}\", ours \"{ourLines![i]}\"");
                    return null;
                }
                distances.Add(PdqHash.Distance(expected, actual));
            }

            double referenceMedian = Median(referenceTimes), ourMedian = Median(ourTimes);
            output.WriteLine(FormattableString.Invariant(
                $"reference pdq-photo-hasher: {referenceMedian:0.000} s ({files.Count / referenceMedian:0.0} images/s, start-up included); runs {string.Join(", ", referenceTimes.Select(t => t.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)))} s"));
            output.WriteLine(FormattableString.Invariant(
                $"moderation hash:            {ourMedian:0.000} s ({files.Count / ourMedian:0.0} images/s, start-up included); runs {string.Join(", ", ourTimes.Select(t => t.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)))} s"));
            output.WriteLine($"bits between moderation hash and the reference on these files: {Histogram(distances)}");
            return referenceMedian / ourMedian;
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>How this build runs itself: its apphost when there is one next to it (what a user runs), else dotnet moderation.dll.</summary>
    private static string[] OurHash()
    {
        var apphost = Path.Combine(AppContext.BaseDirectory, "moderation");
        if (File.Exists(apphost)) return [apphost];
        return [ModerationProcess.DotnetHost, ModerationProcess.ModerationDll];
    }

    private static (double Seconds, int Exit, List<string> Lines, string Error) Time(string? taskset, int core, string[] command, List<string> files)
    {
        var info = new ProcessStartInfo(taskset ?? command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (taskset is not null)
        {
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add(core.ToString(System.Globalization.CultureInfo.InvariantCulture));
            foreach (var part in command) info.ArgumentList.Add(part);
        }
        else
        {
            foreach (var part in command.Skip(1)) info.ArgumentList.Add(part);
        }
        foreach (var file in files) info.ArgumentList.Add(file);

        var timer = Stopwatch.StartNew();
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {info.FileName}");
        var error = process.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        while (process.StandardOutput.ReadLine() is { } line) lines.Add(line);
        process.WaitForExit();
        double seconds = timer.Elapsed.TotalSeconds;
        return (seconds, process.ExitCode, lines, error.Result);
    }

    // hash,quality,path: both tools print the path as given.
    private static bool TryHash(string line, string file, out PdqHash hash)
    {
        hash = default;
        var parts = line.Split(',', 3);
        return parts.Length == 3 && parts[2] == file && PdqHash.TryParse(parts[0], out hash);
    }

    private static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static string Histogram(List<int> values)
    {
        var parts = values.GroupBy(v => v).OrderBy(g => g.Key).Select(g => $"{g.Key}:{g.Count()}");
        return $"{string.Join(" ", parts)} (bits:images; max {values.Max()}, mean {values.Average():0.0})";
    }
}
