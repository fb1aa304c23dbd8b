using Moderation.Streams.Hashing;
using Moderation.Streams.Media;
using SkiaSharp;

namespace Moderation.Streams.Cli.Tests;

/// <summary>
/// <c>moderation hash</c> reads a file's stored pixels by default, as Meta's reference hasher does (so its lines import
/// into banks comparable with reference hashes); <c>--upright</c> hashes the picture a viewer shows, as the worker does.
/// </summary>
public sealed class HashCommandTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _images = Directory.CreateTempSubdirectory("hash-");

    public void Dispose() => _images.Delete(true);

    [Fact]
    public async Task Hash_reads_the_stored_pixels_by_default_and_the_picture_as_shown_with_upright()
    {
        using var picture = SampleImages.Render(9301, 640, 480);
        string upright = Path.Combine(_images.FullName, "upright.png"), turned = Path.Combine(_images.FullName, "exif-6.jpg");
        File.WriteAllBytes(upright, SampleImages.Encode(picture));
        File.WriteAllBytes(turned, Media.Tests.Adversarial.StillImageEvasions.WithJpegOrientation(StoredTurned(picture), 6));

        using var reference = await CliProcess.RunAsync(["hash", upright, turned], ct: Ct);
        using var shown = await CliProcess.RunAsync(["hash", "--upright", upright, turned], ct: Ct);

        Assert.Equal(ExitCodes.Ok, await reference.WaitForExitAsync(ct: Ct));
        Assert.Equal(ExitCodes.Ok, await shown.WaitForExitAsync(ct: Ct));
        static PdqHash Hash(string line) => PdqHash.Parse(line.Split(',')[0]);
        Assert.True(PdqHash.Distance(Hash(reference.StdoutLines[0]), Hash(reference.StdoutLines[1])) > 31, "the stored pixels are the picture turned");
        Assert.InRange(PdqHash.Distance(Hash(shown.StdoutLines[0]), Hash(shown.StdoutLines[1])), 0, 12);
        Assert.Equal(reference.StdoutLines[0], shown.StdoutLines[0]); // no orientation recorded: the same line
        Assert.EndsWith("," + turned, reference.StdoutLines[1], StringComparison.Ordinal);
    }

    private static byte[] StoredTurned(SKBitmap picture)
    {
        using var stored = Media.Tests.Adversarial.StillImageEvasions.Stored(picture, 6);
        return SampleImages.Encode(stored, SKEncodedImageFormat.Jpeg, 90);
    }
}
