using System.Globalization;

namespace Moderation.Streams.Cli.Tests;

/// <summary>
/// <c>moderation bench inference</c> run as a process at its smallest size: with <c>--precision int8</c> it times the
/// float32 model in the same rounds and prints the int8/fp32 ratio; a model without an int8 variant is a usage error.
/// The ratio's value is measured, not asserted (tests never assert a speed).
/// </summary>
public sealed class BenchInferenceCommandTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Precision_int8_times_fp32_in_the_same_run_and_prints_the_int8_vs_fp32_ratio()
    {
        using var bench = await CliProcess.RunAsync(
            ["bench", "inference", "--device", "cpu", "--precision", "int8", "--seconds", "0.2", "--max-batch", "1", "--rounds", "1", "--callers", "2"],
            deadline: TimeSpan.FromMinutes(3), ct: Ct);

        Assert.Equal(ExitCodes.Ok, await bench.WaitForExitAsync(TimeSpan.FromMinutes(3), Ct));
        var output = string.Join("\n", bench.StdoutLines.Concat(bench.StderrLines));
        Assert.Contains(bench.StdoutLines, l => l.StartsWith("model nsfw-mobilenet-v2@1+int8  device cpu", StringComparison.Ordinal));
        Assert.Contains(bench.StdoutLines, l => l == "int8 vs nsfw-mobilenet-v2@1 on cpu in every round");
        var round = Assert.Single(bench.StdoutLines, l => l.StartsWith("round 1:", StringComparison.Ordinal));
        Assert.Contains("| fp32 raw@1 ", round, StringComparison.Ordinal);
        var ratio = Assert.Single(bench.StdoutLines, l => l.StartsWith("RATIO int8_vs_fp32 ", StringComparison.Ordinal));
        var parts = ratio.Split(' ');
        Assert.Equal(["RATIO", "int8_vs_fp32"], parts[..2]);
        Assert.True(double.TryParse(parts[2], NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value > 0, output);
        Assert.Equal(["goal", "1.8"], parts[3..]);
        Assert.DoesNotContain(bench.StdoutLines, l => l.StartsWith("RATIO inference_fp16", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Precision_int8_for_a_model_without_an_int8_variant_is_a_usage_error_naming_the_models_that_have_one()
    {
        using var bench = await CliProcess.RunAsync(["bench", "inference", "--model", "nsfw-inception-v3", "--precision", "int8"], ct: Ct);

        Assert.Equal(ExitCodes.Usage, await bench.WaitForExitAsync(ct: Ct));
        Assert.Empty(bench.StdoutLines);
        var error = Assert.Single(bench.StderrLines);
        Assert.StartsWith("moderation bench inference: model 'nsfw-inception-v3' has no int8 variant", error, StringComparison.Ordinal);
        Assert.Contains("models with one: nsfw-mobilenet-v2, nsfw-mobilenet-v2-mid", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Precision_int8_on_cuda_fails_saying_int8_runs_on_the_cpu()
    {
        using var bench = await CliProcess.RunAsync(["bench", "inference", "--device", "cuda", "--precision", "int8"], ct: Ct);

        Assert.Equal(ExitCodes.Failure, await bench.WaitForExitAsync(ct: Ct));
        var error = Assert.Single(bench.StderrLines);
        Assert.Contains("Inference:Precision=int8 runs on the CPU execution provider only", error, StringComparison.Ordinal);
    }
}
