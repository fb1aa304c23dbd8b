using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Moderation.Streams.Cli.Tests;

/// <summary>
/// <c>tools/perf-table.sh</c>, the README's one performance table: a real bench through it (the smallest, <c>bench pdq
/// --quick</c>), a stand-in app whose benches print known ratios or fail (the table's rows, the exit status), and its
/// usage errors. Nothing here asserts a speed.
/// </summary>
public sealed partial class PerfTableScriptTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("perf-table-test-");

    public void Dispose() => _folder.Delete(true);

    private static string Script
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                var script = Path.Combine(dir.FullName, "tools", "perf-table.sh");
                if (File.Exists(script)) return script;
            }
            throw new FileNotFoundException("tools/perf-table.sh above " + AppContext.BaseDirectory);
        }
    }

    private async Task<(int Code, string Output)> RunAsync(params string[] args)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Script);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    [GeneratedRegex(@"^\| `pdq_fast_vs_full_decode` \| (?<value>[0-9.]+) \| 1\.5 \| `moderation bench pdq --seconds 1` \| [0-9.]+-[0-9.]+ \|$", RegexOptions.Multiline)]
    private static partial Regex PdqRow();

    [Fact]
    public async Task A_real_bench_becomes_rows_of_the_table_with_the_machine_named_and_a_missing_reference_said()
    {
        var app = Path.GetDirectoryName(CliProcess.ModerationDll)!;
        var outDir = Path.Combine(_folder.FullName, "out");

        var (code, output) = await RunAsync("--quick", "--only", "pdq", "--app", app, "--out", outDir);

        Assert.True(code == 0, output);
        var table = await File.ReadAllTextAsync(Path.Combine(outDir, "table.md"), Ct);
        var row = PdqRow().Match(table);
        Assert.True(row.Success, table);
        Assert.True(double.Parse(row.Groups["value"].Value, CultureInfo.InvariantCulture) > 0, table);
        Assert.Contains("| `hash_vs_reference` | not run | - | no --reference PATH", table, StringComparison.Ordinal);
        Assert.Contains($"{Environment.ProcessorCount} cores", table, StringComparison.Ordinal);
        Assert.Contains("CPU: ", table, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(outDir, "logs", "pdq.txt")));
        Assert.DoesNotContain("inference", table, StringComparison.Ordinal); // --only: nothing else ran
    }

    [Fact]
    public async Task Every_ratio_a_bench_prints_is_a_row_and_a_failing_bench_is_a_row_and_exit_1()
    {
        // A stand-in app: `bench inference` prints two ratios (int8 adds its own), `bench pdq` fails.
        var app = Directory.CreateDirectory(Path.Combine(_folder.FullName, "app")).FullName;
        var fake = Path.Combine(app, "moderation");
        await File.WriteAllTextAsync(fake, """
            #!/usr/bin/env bash
            case "$2" in
              inference) echo "some output"; echo "RATIO inference_batcher_vs_raw_best 0.97 goal 0.9"
                         for a in "$@"; do [ "$a" = int8 ] && echo "RATIO int8_vs_fp32 2.25 goal 1.8"; done; exit 0 ;;
              pdq) echo "cannot decode anything" >&2; exit 3 ;;
            esac
            exit 9
            """.ReplaceLineEndings("\n"), Ct);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var outDir = Path.Combine(_folder.FullName, "out");

        var (code, output) = await RunAsync("--quick", "--only", "pdq,int8", "--app", app, "--out", outDir);

        Assert.True(code == 1, output);
        var rows = (await File.ReadAllLinesAsync(Path.Combine(outDir, "table.md"), Ct)).Where(l => l.StartsWith("| ", StringComparison.Ordinal)).ToList();
        Assert.Contains(rows, r => r.StartsWith("| pdq: exit 3 (see logs/pdq.txt) | - | - | `moderation bench pdq --seconds 1` |", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.StartsWith("| `inference_batcher_vs_raw_best` | 0.97 | 0.9 | `moderation bench inference --precision int8 --seconds 1 --rounds 2` |", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.StartsWith("| `int8_vs_fp32` | 2.25 | 1.8 | `moderation bench inference --precision int8", StringComparison.Ordinal));
        Assert.Equal(1 + 1 + 1 + 2, rows.Count); // the header, pdq's failure, the reference not run, two ratios
        Assert.Contains("cannot decode anything", await File.ReadAllTextAsync(Path.Combine(outDir, "logs", "pdq.txt"), Ct), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--bogus")]
    [InlineData("--only", "nothing-like-this")]
    [InlineData("--only", "soak")]
    [InlineData("--soak-minutes", "ten")]
    [InlineData("--reference", "/no/such/pdq-photo-hasher")]
    public async Task Usage_errors_exit_2_with_one_line_before_anything_runs(params string[] args)
    {
        var outDir = Path.Combine(_folder.FullName, "out");
        var (code, output) = await RunAsync([.. args, "--out", outDir]);

        Assert.True(code == 2, output);
        Assert.StartsWith("perf-table.sh: ", output.Trim(), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(outDir, "app")), output); // nothing published
    }
}
