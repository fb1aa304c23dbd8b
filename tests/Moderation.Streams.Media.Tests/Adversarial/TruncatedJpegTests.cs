using Moderation.Streams.Contracts;
using SkiaSharp;

namespace Moderation.Streams.Media.Tests.Adversarial;

/// <summary>
/// A JPEG that ends before its last scan is <c>undecodable-media</c>, even when an end-of-image marker is appended
/// (libjpeg-turbo then reports success and invents the missing blocks): baseline and progressive, with and without
/// restart markers. Every JPEG among Meta's PDQ reference vectors still decodes.
/// </summary>
public class TruncatedJpegTests
{
    private static string Vectors { get; } = FindVectors();

    private static string FindVectors()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Moderation.Streams.sln")))
                return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "pdq-vectors", "data"));
        throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }

    public static TheoryData<string> VectorJpegs()
    {
        var data = new TheoryData<string>();
        foreach (var path in Directory.GetFiles(Vectors, "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            data.Add(Path.GetRelativePath(Vectors, path));
        return data;
    }

    /// <summary>One of each kind: baseline 4:2:0 without and with restart intervals (100 and 8 MCUs), progressive 4:4:4
    /// and 4:2:0, baseline CMYK, and Skia's own encoder output.</summary>
    public static TheoryData<string, double> Cuts()
    {
        var data = new TheoryData<string, double>();
        foreach (var file in new[]
                 {
                     "reg-test-input/dih/bridge-1-original.jpg", "bridge-mods/blur-a-little.jpg", "bridge-mods/square-128x128.jpg",
                     "reg-test-input/dih/bridge-2-rotate-90.jpg", "misc-images/small.jpg", "misc-images/wee.jpg", "misc-images/modes/CMYK.jpg",
                 })
            foreach (double fraction in new[] { 0.2, 0.5, 0.9, 0.99 })
                data.Add(file, fraction);
        return data;
    }

    [Theory]
    [MemberData(nameof(VectorJpegs))]
    public void Every_reference_vector_jpeg_still_decodes(string file)
    {
        var image = ImageDecoder.DecodeFile(Path.Combine(Vectors, file));
        Assert.True(image.Width > 0 && image.Height > 0);
    }

    [Theory]
    [MemberData(nameof(VectorJpegs))]
    public void The_walk_of_every_reference_vector_jpeg_ends_each_scan_exactly_where_its_data_ends(string file)
    {
        // Bit accounting check: a symbol miscounted anywhere would leave data unread or run past the end.
        Assert.Equal(0, JpegEntropy.Verify(File.ReadAllBytes(Path.Combine(Vectors, file))));
    }

    [Theory]
    [MemberData(nameof(Cuts))]
    public void A_jpeg_cut_short_and_closed_with_an_end_of_image_marker_is_undecodable(string file, double fraction)
    {
        var cut = StillImageEvasions.CutWithEndOfImage(File.ReadAllBytes(Path.Combine(Vectors, file)), fraction);
        // What the probe found: where the headers survive the cut, the decoder alone says the picture is fine.
        using (var codec = SKCodec.Create(SKData.CreateCopy(cut)))
        if (codec is not null)
        {
            var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
            using var bitmap = new SKBitmap(info);
            Assert.Equal(SKCodecResult.Success, codec.GetPixels(info, bitmap.GetPixels()));
        }

        var e = Assert.Throws<ModerationException>(() => ImageDecoder.Decode(cut));

        Assert.Equal(ErrorCodes.UndecodableMedia, e.Code);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.97)]
    public void A_skia_encoded_jpeg_cut_short_with_eoi_is_undecodable_and_whole_it_decodes(double fraction)
    {
        var jpeg = SampleImages.Jpeg(9100, 640, 480, 90);
        Assert.Equal(640, ImageDecoder.Decode(jpeg).Width);
        Assert.Equal(ErrorCodes.UndecodableMedia, Assert.Throws<ModerationException>(() => ImageDecoder.Decode(StillImageEvasions.CutWithEndOfImage(jpeg, fraction))).Code);
    }

    [Theory]
    [InlineData("misc-images/small.jpg")] // progressive 4:2:0
    [InlineData("misc-images/wee.jpg")] // progressive 4:4:4
    [InlineData("bridge-mods/square-128x128.jpg")] // baseline, restart every 8 MCUs
    [InlineData("reg-test-input/labelme-subset/q0003.jpg")] // baseline
    public void No_cut_anywhere_in_the_scans_closed_with_an_end_of_image_marker_decodes(string file)
    {
        var jpeg = File.ReadAllBytes(Path.Combine(Vectors, file));
        int firstScan = StillImageEvasions.ScanStarts(jpeg)[0];
        var decoded = new List<int>();
        // Every length from the first scan's header to the last data byte (the last two bytes are the EOI itself).
        for (int length = firstScan; length <= jpeg.Length - 3; length++)
        {
            byte[] cut = [.. jpeg.AsSpan(0, length), 0xFF, 0xD9];
            try
            {
                ImageDecoder.Decode(cut);
                decoded.Add(length);
            }
            catch (ModerationException e)
            {
                Assert.Equal(ErrorCodes.UndecodableMedia, e.Code);
            }
        }
        Assert.Empty(decoded);
    }

    [Fact]
    public void A_progressive_jpeg_holding_only_its_first_scans_is_undecodable_though_every_scan_present_is_whole()
    {
        var prog = File.ReadAllBytes(Path.Combine(Vectors, "reg-test-input", "dih", "bridge-2-rotate-90.jpg"));
        var scans = StillImageEvasions.ScanStarts(prog);
        Assert.True(scans.Count > 3);
        foreach (int next in scans.Skip(1))
        {
            byte[] firstScans = [.. prog.AsSpan(0, next), 0xFF, 0xD9];
            var e = Assert.Throws<ModerationException>(() => ImageDecoder.Decode(firstScans));
            Assert.Equal(ErrorCodes.UndecodableMedia, e.Code);
            Assert.Contains("scans are missing", e.Message);
        }
    }

    [Fact]
    public void A_restart_marker_arriving_before_its_interval_is_full_is_undecodable()
    {
        // Drop the data of one restart interval in the middle: the markers still count up, but one interval ends early.
        var jpeg = File.ReadAllBytes(Path.Combine(Vectors, "bridge-mods", "blur-a-little.jpg"));
        var rst = Enumerable.Range(0, jpeg.Length - 1).Where(i => jpeg[i] == 0xFF && jpeg[i + 1] is >= 0xD0 and <= 0xD7).ToList();
        int from = rst[rst.Count / 2] + 2, to = rst[rst.Count / 2 + 1];
        byte[] gutted = [.. jpeg.AsSpan(0, from), .. jpeg.AsSpan(from + (to - from) / 2)];
        // Half of one interval's bytes removed; every marker after it stays in place.
        Assert.Equal(ErrorCodes.UndecodableMedia, Assert.Throws<ModerationException>(() => ImageDecoder.Decode(gutted)).Code);
    }

    [Theory]
    [InlineData(0xC3)] // lossless
    [InlineData(0xC9)] // arithmetic, sequential
    [InlineData(0xCA)] // arithmetic, progressive
    public void Jpeg_coding_processes_whose_data_cannot_be_checked_are_unsupported(byte sof)
    {
        var jpeg = SampleImages.Jpeg(9200, 64, 48);
        int at = Enumerable.Range(0, jpeg.Length - 1).First(i => jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0);
        jpeg[at + 1] = sof;
        Assert.Equal(ErrorCodes.UnsupportedMedia, Assert.Throws<ModerationException>(() => ImageDecoder.Decode(jpeg)).Code);
    }
}
