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

    private string WriteImage()
    {
        string path = Path.Combine(_images.FullName, "a.png");
        File.WriteAllBytes(path, SampleImages.Png(3, 96, 64));
        return path;
    }
}
