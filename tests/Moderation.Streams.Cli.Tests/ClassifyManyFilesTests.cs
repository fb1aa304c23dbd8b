using System.Text.Json;
using Moderation.Streams.Media;

namespace Moderation.Streams.Cli.Tests;

/// <summary>
/// <c>moderation classify</c> on many files decodes them in parallel and classifies them in batches: lines still come
/// out in the files' order, a bad file in the middle is its one error line (exit 1) and the others are scored, and a
/// picture scores the same in a batch as alone.
/// </summary>
public sealed class ClassifyManyFilesTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _images = Directory.CreateTempSubdirectory("classify-many-");

    public void Dispose() => _images.Delete(true);

    [Fact]
    public async Task Lines_come_in_file_order_a_bad_file_is_one_error_line_and_batched_scores_equal_a_single_run()
    {
        var files = new List<string>();
        for (int i = 0; i < 9; i++)
        {
            var path = Path.Combine(_images.FullName, $"p{i}.{(i % 3 == 0 ? "jpg" : "png")}");
            File.WriteAllBytes(path, i % 3 == 0 ? SampleImages.Jpeg(400 + i, 320 + 16 * i, 240) : SampleImages.Png(400 + i, 240, 320 + 16 * i));
            files.Add(path);
        }
        string bad = Path.Combine(_images.FullName, "bad.jpg");
        File.WriteAllText(bad, "not an image");
        files.Insert(4, bad);

        using var many = await CliProcess.RunAsync(["classify", "--device", "cpu", .. files], ct: Ct);
        using var alone = await CliProcess.RunAsync(["classify", "--device", "cpu", files[6]], ct: Ct);

        Assert.Equal(ExitCodes.Failure, await many.WaitForExitAsync(ct: Ct));
        Assert.Equal(ExitCodes.Ok, await alone.WaitForExitAsync(ct: Ct));
        var paths = many.StdoutLines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("path").GetString()).ToList();
        Assert.Equal(files.Where(f => f != bad), paths);
        Assert.Equal([$"moderation classify: {bad}: unsupported-media: not a recognised image (supported: JPEG, PNG, GIF, WebP, BMP)"], many.StderrLines);
        Assert.Equal(Assert.Single(alone.StdoutLines), many.StdoutLines[5]);
    }
}
