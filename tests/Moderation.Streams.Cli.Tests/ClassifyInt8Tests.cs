using System.Text.Json;
using Moderation.Streams.Media;

namespace Moderation.Streams.Cli.Tests;

/// <summary><c>moderation classify --precision int8</c> as a process: int8 lines say so and score near fp32; CUDA is refused.</summary>
public sealed class ClassifyInt8Tests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _images = Directory.CreateTempSubdirectory("classify-int8-");

    public void Dispose() => _images.Delete(true);

    [Fact]
    public async Task Precision_int8_scores_near_fp32_says_so_and_refuses_cuda()
    {
        string image = Path.Combine(_images.FullName, "a.png");
        File.WriteAllBytes(image, SampleImages.Png(3, 96, 64));

        using var int8 = await CliProcess.RunAsync(["classify", "--precision", "int8", image], ct: Ct);
        using var fp32 = await CliProcess.RunAsync(["classify", "--device", "cpu", image], ct: Ct);
        using var cuda = await CliProcess.RunAsync(["classify", "--device", "cuda", "--precision", "int8", image], ct: Ct);

        Assert.Equal(ExitCodes.Ok, await int8.WaitForExitAsync(ct: Ct));
        Assert.Equal(ExitCodes.Ok, await fp32.WaitForExitAsync(ct: Ct));
        Assert.Empty(int8.StderrLines); // the default device is auto: int8 goes to the CPU without a fallback warning
        using var quantized = JsonDocument.Parse(Assert.Single(int8.StdoutLines));
        using var full = JsonDocument.Parse(Assert.Single(fp32.StdoutLines));
        Assert.Equal("int8", quantized.RootElement.GetProperty("precision").GetString());
        Assert.Equal("nsfw-mobilenet-v2", quantized.RootElement.GetProperty("model").GetString());
        foreach (var score in full.RootElement.GetProperty("scores").EnumerateObject())
            Assert.InRange(quantized.RootElement.GetProperty("scores").GetProperty(score.Name).GetDouble(), score.Value.GetDouble() - 0.1, score.Value.GetDouble() + 0.1);
        Assert.NotEqual(full.RootElement.GetProperty("scores").ToString(), quantized.RootElement.GetProperty("scores").ToString());

        Assert.Equal(ExitCodes.Failure, await cuda.WaitForExitAsync(ct: Ct));
        Assert.Empty(cuda.StdoutLines);
        Assert.Contains(cuda.StderrLines, l => l.StartsWith("moderation classify: ", StringComparison.Ordinal) && l.Contains("int8 runs on the CPU execution provider only", StringComparison.Ordinal));
    }
}
