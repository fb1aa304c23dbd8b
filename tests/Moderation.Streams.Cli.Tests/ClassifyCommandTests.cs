using System.Text.Json;
using Moderation.Streams.Media;

namespace Moderation.Streams.Cli.Tests;

/// <summary>
/// <c>moderation classify --device</c> on a machine where CUDA cannot run (this suite's build carries the CPU-only
/// ONNX Runtime): <c>cuda</c> fails saying why, <c>auto</c> says why on stderr and scores exactly as <c>cpu</c>.
/// </summary>
public sealed class ClassifyCommandTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _images = Directory.CreateTempSubdirectory("classify-");

    public void Dispose() => _images.Delete(true);

    [Fact]
    public async Task Device_cuda_where_it_cannot_run_fails_with_the_reason_and_prints_no_scores()
    {
        string image = WriteImage();

        using var cli = await CliProcess.RunAsync(["classify", "--device", "cuda", image], ct: Ct);

        Assert.Equal(ExitCodes.Failure, await cli.WaitForExitAsync(ct: Ct));
        Assert.Empty(cli.StdoutLines);
        var error = Assert.Single(cli.StderrLines, l => l.StartsWith("moderation classify:", StringComparison.Ordinal));
        Assert.Contains("Inference:Device is 'cuda' but the CUDA execution provider cannot be used", error, StringComparison.Ordinal);
        Assert.Contains("CPU-only ONNX Runtime", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Device_auto_where_cuda_cannot_run_says_why_on_stderr_and_scores_exactly_as_the_cpu()
    {
        string image = WriteImage();

        using var auto = await CliProcess.RunAsync(["classify", "--device", "auto", image], ct: Ct);
        using var cpu = await CliProcess.RunAsync(["classify", "--device", "cpu", image], ct: Ct);

        Assert.Equal(ExitCodes.Ok, await auto.WaitForExitAsync(ct: Ct));
        Assert.Equal(ExitCodes.Ok, await cpu.WaitForExitAsync(ct: Ct));
        Assert.Contains(auto.StderrLines, l => l.StartsWith("moderation classify: --device auto: CUDA is not usable, classifying on the CPU (", StringComparison.Ordinal));
        Assert.DoesNotContain(cpu.StderrLines, l => l.Contains("CUDA", StringComparison.Ordinal));
        var line = Assert.Single(auto.StdoutLines);
        Assert.Equal(Assert.Single(cpu.StdoutLines), line);
        using var json = JsonDocument.Parse(line);
        Assert.Equal(5, json.RootElement.GetProperty("scores").EnumerateObject().Count());
    }

    [Fact]
    public async Task Precision_fp16_scores_close_to_fp32_and_says_so_and_a_model_without_a_variant_is_a_usage_error()
    {
        string image = WriteImage();

        using var fp16 = await CliProcess.RunAsync(["classify", "--device", "cpu", "--precision", "fp16", image], ct: Ct);
        using var fp32 = await CliProcess.RunAsync(["classify", "--device", "cpu", image], ct: Ct);
        using var none = await CliProcess.RunAsync(["classify", "--model", "nsfw-inception-v3", "--precision", "fp16", image], ct: Ct);

        Assert.Equal(ExitCodes.Ok, await fp16.WaitForExitAsync(ct: Ct));
        Assert.Equal(ExitCodes.Ok, await fp32.WaitForExitAsync(ct: Ct));
        using var half = JsonDocument.Parse(Assert.Single(fp16.StdoutLines));
        using var full = JsonDocument.Parse(Assert.Single(fp32.StdoutLines));
        Assert.Equal("fp16", half.RootElement.GetProperty("precision").GetString());
        Assert.False(full.RootElement.TryGetProperty("precision", out _));
        foreach (var score in full.RootElement.GetProperty("scores").EnumerateObject())
            Assert.InRange(half.RootElement.GetProperty("scores").GetProperty(score.Name).GetDouble(), score.Value.GetDouble() - 1e-2, score.Value.GetDouble() + 1e-2);
        Assert.Equal(ExitCodes.Usage, await none.WaitForExitAsync(ct: Ct));
        Assert.Contains(none.StderrLines, l => l.Contains("'nsfw-inception-v3' has no fp16 variant", StringComparison.Ordinal));
    }

    private string WriteImage()
    {
        string path = Path.Combine(_images.FullName, "a.png");
        File.WriteAllBytes(path, SampleImages.Png(3, 96, 64));
        return path;
    }
}
