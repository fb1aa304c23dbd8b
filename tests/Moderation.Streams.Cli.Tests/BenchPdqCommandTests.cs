using System.Globalization;

namespace Moderation.Streams.Cli.Tests;

/// <summary>
/// <c>moderation bench pdq</c> at its smallest sizes. Meta's pdq-photo-hasher is not installed here, so
/// <c>--reference</c> is given stand-ins: a script that runs <c>moderation hash --full-decode</c> (the reference's
/// own pixels, so its hashes are the reference's), and scripts that fail. Nothing here asserts a speed.
/// </summary>
public sealed class BenchPdqCommandTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("bench-pdq-test-");

    public void Dispose() => _folder.Delete(true);

    private static readonly string[] Smallest = ["bench", "pdq", "--images", "2", "--seconds", "0.05", "--repeat", "1"];

    [Fact]
    public async Task With_a_reference_it_runs_both_side_by_side_on_the_same_files_and_prints_the_ratio_and_the_bits_between_them()
    {
        string reference = Script("reference.sh",
            $"exec '{CliProcess.DotnetHost}' '{CliProcess.ModerationDll}' hash --full-decode \"$@\"");

        using var cli = await CliProcess.RunAsync([.. Smallest, "--reference", reference], deadline: TimeSpan.FromMinutes(4), ct: Ct);

        Assert.True(ExitCodes.Ok == await cli.WaitForExitAsync(TimeSpan.FromMinutes(4), Ct), cli.Transcript());
        var lines = cli.StdoutLines;
        Assert.Contains(lines, l => l.StartsWith("side by side: 2 JPEGs of 1080x1920 in one command line each, ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("reference pdq-photo-hasher: ", StringComparison.Ordinal) && l.Contains("start-up included", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("moderation hash: ", StringComparison.Ordinal) && l.Contains("start-up included", StringComparison.Ordinal));
        // Both sides hashed both files; the stand-in decodes in full, `hash` at half scale: upstream's porting rule.
        var bits = Assert.Single(lines, l => l.StartsWith("bits between moderation hash and the reference on these files: ", StringComparison.Ordinal));
        int max = int.Parse(bits.Split("max ")[1].Split(',')[0], CultureInfo.InvariantCulture);
        Assert.InRange(max, 0, 10);
        var ratio = Assert.Single(lines, l => l.StartsWith("RATIO hash_vs_reference ", StringComparison.Ordinal)).Split(' ');
        Assert.True(double.Parse(ratio[2], CultureInfo.InvariantCulture) > 0, string.Join(' ', ratio));
        Assert.Equal(["goal", "3"], ratio[3..]);
        Assert.DoesNotContain(lines, l => l.Contains("documented", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_a_reference_it_says_the_reference_was_not_measured_and_prints_no_ratio_against_it()
    {
        using var cli = await CliProcess.RunAsync(Smallest, deadline: TimeSpan.FromMinutes(4), ct: Ct);

        Assert.True(ExitCodes.Ok == await cli.WaitForExitAsync(TimeSpan.FromMinutes(4), Ct), cli.Transcript());
        Assert.Contains(cli.StdoutLines, l => l.StartsWith("Meta's reference: not measured", StringComparison.Ordinal));
        Assert.DoesNotContain(cli.StdoutLines, l => l.Contains("reference", StringComparison.Ordinal) && l.StartsWith("RATIO", StringComparison.Ordinal));
        Assert.Contains(cli.StdoutLines, l => l.StartsWith("RATIO pdq_fast_vs_full_decode ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_reference_that_fails_or_prints_no_hashes_fails_the_run_with_one_line_saying_so()
    {
        string failing = Script("failing.sh", "echo 'cannot decode' >&2; exit 1");
        string silent = Script("silent.sh", "for f in \"$@\"; do echo \"not a hash,100,$f\"; done");

        using var fails = await CliProcess.RunAsync([.. Smallest, "--reference", failing], deadline: TimeSpan.FromMinutes(4), ct: Ct);
        using var garbage = await CliProcess.RunAsync([.. Smallest, "--reference", silent], deadline: TimeSpan.FromMinutes(4), ct: Ct);

        Assert.True(ExitCodes.Failure == await fails.WaitForExitAsync(TimeSpan.FromMinutes(4), Ct), fails.Transcript());
        Assert.Single(fails.StderrLines, l => l.StartsWith("moderation bench pdq: reference exited 1 with 0 lines for 2 files: cannot decode", StringComparison.Ordinal));
        Assert.True(ExitCodes.Failure == await garbage.WaitForExitAsync(TimeSpan.FromMinutes(4), Ct), garbage.Transcript());
        Assert.Single(garbage.StderrLines, l => l.StartsWith("moderation bench pdq: unexpected output for ", StringComparison.Ordinal));
        Assert.DoesNotContain(fails.StdoutLines.Concat(garbage.StdoutLines), l => l.StartsWith("RATIO hash_vs_reference", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("--reference", "/nonexistent/pdq-photo-hasher", "--reference: no such file")]
    [InlineData("--images", "0", "--images must be 1 to 1000")]
    [InlineData("--repeat", "21", "--repeat must be 1 to 20")]
    [InlineData("--core", "4096", "--core must be 0 to")]
    public async Task Bad_options_are_usage_errors(string option, string value, string message)
    {
        using var cli = await CliProcess.RunAsync(["bench", "pdq", option, value], ct: Ct);

        Assert.Equal(ExitCodes.Usage, await cli.WaitForExitAsync(ct: Ct));
        Assert.Contains(cli.StderrLines, l => l.Contains(message, StringComparison.Ordinal));
        Assert.Empty(cli.StdoutLines);
    }

    private string Script(string name, string body)
    {
        var path = Path.Combine(_folder.FullName, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }
}
