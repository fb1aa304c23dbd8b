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

    [Fact]
    public async Task Hash_prints_hash_quality_path_per_file_as_the_reference_hasher_does()
    {
        string first = Path.Combine(_images.FullName, "a.png"), second = Path.Combine(_images.FullName, "b.jpg");
        File.WriteAllBytes(first, SampleImages.Png(9311, 320, 240));
        File.WriteAllBytes(second, SampleImages.Jpeg(9312, 640, 360));

        using var cli = await CliProcess.RunAsync(["hash", first, second], ct: Ct);

        Assert.True(await cli.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, cli.Transcript());
        Assert.Empty(cli.StderrLines);
        Assert.Equal(2, cli.StdoutLines.Count);
        var hasher = new PdqHasher();
        foreach (var (line, path) in cli.StdoutLines.Zip([first, second]))
        {
            // DESIGN.md: hash,quality,path — 64 lower-case hex digits, quality 0–100, the path as given.
            var match = System.Text.RegularExpressions.Regex.Match(line, "^([0-9a-f]{64}),([0-9]{1,3}),(.+)$");
            Assert.True(match.Success, line);
            Assert.Equal(path, match.Groups[3].Value);
            Assert.InRange(int.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), 0, 100);
            var image = ImageDecoder.DecodeFile(path, DecodeLimits.Default, ImageOrientation.AsStored);
            var expected = hasher.Hash(image.Pixels, image.Width, image.Height, image.Channels);
            Assert.Equal(expected.Hash.ToString(), match.Groups[1].Value);
            Assert.Equal(expected.Quality.ToString(System.Globalization.CultureInfo.InvariantCulture), match.Groups[2].Value);
        }
    }

    [Fact]
    public async Task An_unknown_flag_is_a_usage_error_not_a_file_and_a_missing_file_fails_alone()
    {
        var image = Path.Combine(_images.FullName, "c.png");
        File.WriteAllBytes(image, SampleImages.Png(9313, 64, 64));

        using var bogus = await CliProcess.RunAsync(["hash", image, "--bogus"], ct: Ct);
        Assert.Equal(ExitCodes.Usage, await bogus.WaitForExitAsync(ct: Ct));
        Assert.Empty(bogus.StdoutLines); // refused before any file is read
        Assert.Contains(bogus.StderrLines, l => l.Contains("unknown option '--bogus'", StringComparison.Ordinal));
        Assert.DoesNotContain(bogus.StderrLines, l => l.Contains("no such file", StringComparison.Ordinal));

        // After "--" a name that starts with a dash is a file.
        var dashed = Path.Combine(_images.FullName, "-odd.png");
        File.Copy(image, dashed);
        using var separated = await CliProcess.RunAsync(["hash", "--", dashed], ct: Ct);
        Assert.True(await separated.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, separated.Transcript());
        Assert.EndsWith("," + dashed, Assert.Single(separated.StdoutLines), StringComparison.Ordinal);

        var missing = Path.Combine(_images.FullName, "missing.png");
        using var partly = await CliProcess.RunAsync(["hash", missing, image], ct: Ct);
        Assert.Equal(ExitCodes.Failure, await partly.WaitForExitAsync(ct: Ct));
        Assert.EndsWith("," + image, Assert.Single(partly.StdoutLines), StringComparison.Ordinal);
        Assert.StartsWith($"moderation hash: {missing}: media-unavailable: ", Assert.Single(partly.StderrLines), StringComparison.Ordinal);
    }

    private static byte[] StoredTurned(SKBitmap picture)
    {
        using var stored = Media.Tests.Adversarial.StillImageEvasions.Stored(picture, 6);
        return SampleImages.Encode(stored, SKEncodedImageFormat.Jpeg, 90);
    }
}
