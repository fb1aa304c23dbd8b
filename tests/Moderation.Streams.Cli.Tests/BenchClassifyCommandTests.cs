using System.Globalization;

namespace Moderation.Streams.Cli.Tests;

/// <summary>
/// <c>moderation bench classify</c> at its smallest size. node and nsfwjs's packages are not installed for the tests,
/// so <c>--node</c> is given stand-ins: one that writes reference.js's JSON (flat scores) and one that fails. The real
/// comparison is run by hand (README); nothing here asserts a speed.
/// </summary>
public sealed class BenchClassifyCommandTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("bench-classify-test-");

    public void Dispose() => _folder.Delete(true);

    [Fact]
    public async Task It_runs_nsfwjs_and_classify_on_the_same_files_and_prints_the_ratio_and_the_agreement()
    {
        string script = Write("reference.js", "// stand-in: the fake node below does the work");
        string node = Write("node.sh", """
            shift
            out=""; files=""
            while [ $# -gt 0 ]; do case "$1" in --backend) shift 2;; --out) out="$2"; shift 2;; *) files="$files $1"; shift;; esac; done
            { printf '{"labels":["drawing","hentai","neutral","porn","sexy"],"models":[{"images":['; sep=""
              for f in $files; do printf '%s{"file":"%s","scores":[0.2,0.2,0.2,0.2,0.2]}' "$sep" "$(basename "$f")"; sep=","; done
              printf ']}]}'; } > "$out"
            """);

        using var cli = await CliProcess.RunAsync(["bench", "classify", "--nsfwjs", script, "--node", node, "--images", "2"], deadline: TimeSpan.FromMinutes(3), ct: Ct);

        Assert.True(ExitCodes.Ok == await cli.WaitForExitAsync(TimeSpan.FromMinutes(3), Ct), cli.Transcript());
        Assert.Contains(cli.StdoutLines, l => l.StartsWith("nsfwjs (wasm, node): ", StringComparison.Ordinal));
        Assert.Contains(cli.StdoutLines, l => l.StartsWith("moderation classify (cpu): ", StringComparison.Ordinal));
        Assert.Contains(cli.StdoutLines, l => l.StartsWith("agreement: top label equal on ", StringComparison.Ordinal) && l.Contains(" of 2; largest score difference ", StringComparison.Ordinal));
        var ratio = Assert.Single(cli.StdoutLines, l => l.StartsWith("RATIO classify_vs_nsfwjs ", StringComparison.Ordinal)).Split(' ');
        Assert.True(double.Parse(ratio[2], CultureInfo.InvariantCulture) > 0, string.Join(' ', ratio));
        Assert.Equal(["goal", "10"], ratio[3..]);
    }

    [Fact]
    public async Task A_failing_nsfwjs_is_one_error_line_and_a_missing_script_is_a_usage_error()
    {
        string script = Write("reference.js", "// stand-in");
        string node = Write("node.sh", "echo 'Error: Cannot find module nsfwjs' >&2; exit 1");

        using var fails = await CliProcess.RunAsync(["bench", "classify", "--nsfwjs", script, "--node", node, "--images", "1"], deadline: TimeSpan.FromMinutes(3), ct: Ct);
        using var missing = await CliProcess.RunAsync(["bench", "classify", "--nsfwjs", "/nonexistent/reference.js"], ct: Ct);

        Assert.True(ExitCodes.Failure == await fails.WaitForExitAsync(TimeSpan.FromMinutes(3), Ct), fails.Transcript());
        Assert.Single(fails.StderrLines, l => l == "moderation bench classify: nsfwjs exited 1: Error: Cannot find module nsfwjs");
        Assert.DoesNotContain(fails.StdoutLines, l => l.StartsWith("RATIO", StringComparison.Ordinal));
        Assert.Equal(ExitCodes.Usage, await missing.WaitForExitAsync(ct: Ct));
        Assert.Contains(missing.StderrLines, l => l.Contains("--nsfwjs: no such file", StringComparison.Ordinal));
    }

    private string Write(string name, string body)
    {
        var path = Path.Combine(_folder.FullName, name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }
}
