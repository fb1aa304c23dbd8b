namespace Moderation.Streams.Cli.Tests;

/// <summary><c>moderation bench text</c> at its smallest size as a process: the banks find every planted entry (or the
/// run fails), the lines describe what was measured, and the ratios print last.</summary>
public sealed class TextBenchCommandTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_smallest_run_prints_its_measurements_and_both_ratios_last()
    {
        using var cli = await CliProcess.RunAsync(["bench", "text", "--terms", "50", "--domains", "200", "--texts", "20", "--captions", "20"], ct: Ct);

        Assert.Equal(ExitCodes.Ok, await cli.WaitForExitAsync(ct: Ct));
        var lines = cli.StdoutLines;
        Assert.StartsWith("text: 50 terms, 200 domains, 20 meaning-bank texts; 20 captions of 200 characters", lines[0], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith("terms+domains: ", StringComparison.Ordinal) && l.EndsWith("every planted entry found by both", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("meaning: bank of 20 texts embedded in ", StringComparison.Ordinal));
        Assert.Matches(@"^RATIO text_banks_vs_indexof_loop \d+(\.\d+)? goal 10$", lines[^3]);
        Assert.Matches(@"^RATIO meaning_index_simd_vs_scalar_scan \d+(\.\d+)? goal 2$", lines[^2]);
        Assert.Matches(@"^RATIO sentence_model_int8_vs_fp32 \d+(\.\d+)? goal 1.5$", lines[^1]);
        Assert.Contains(lines, l => l.Contains("(all-MiniLM-L6-v2+int8, ", StringComparison.Ordinal) && l.Contains("; float32 ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_a_meaning_bank_only_the_term_ratio_prints_and_bad_sizes_are_bad_usage()
    {
        using (var cli = await CliProcess.RunAsync(["bench", "text", "--terms", "50", "--domains", "200", "--texts", "0", "--captions", "20"], ct: Ct))
        {
            Assert.Equal(ExitCodes.Ok, await cli.WaitForExitAsync(ct: Ct));
            Assert.Single(cli.StdoutLines, l => l.StartsWith("RATIO ", StringComparison.Ordinal));
            Assert.DoesNotContain(cli.StdoutLines, l => l.StartsWith("meaning:", StringComparison.Ordinal));
        }
        using var bad = await CliProcess.RunAsync(["bench", "text", "--captions", "0"], ct: Ct);
        Assert.Equal(ExitCodes.Usage, await bad.WaitForExitAsync(ct: Ct));
        Assert.Single(bad.StderrLines);
    }
}
