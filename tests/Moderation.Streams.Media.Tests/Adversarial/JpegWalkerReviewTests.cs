using Moderation.Streams.Contracts;
using SkiaSharp;

namespace Moderation.Streams.Media.Tests.Adversarial;

/// <summary>
/// Review of the JPEG entropy walker (<see cref="JpegEntropy"/>) against hostile inputs: corrupt Huffman data that
/// libjpeg-turbo answers with a "Corrupt JPEG data" warning (and <c>Success</c> from Skia) must be refused as the
/// walker's other corrupt codes are.
/// </summary>
public class JpegWalkerReviewTests
{
    private static string Vectors { get; } = FindVectors();

    private static string FindVectors()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Moderation.Streams.sln")))
                return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "pdq-vectors", "data"));
        throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Marker segments up to the first EOI: (marker, offset of the segment's body, body length); scan data skipped.</summary>
    private static List<(byte Marker, int Body, int Length)> Segments(byte[] b)
    {
        var list = new List<(byte, int, int)>();
        int i = 2;
        while (i + 4 <= b.Length && b[i + 1] != 0xD9)
        {
            byte marker = b[i + 1];
            int length = (b[i + 2] << 8) | b[i + 3];
            list.Add((marker, i + 4, length - 2));
            i += 2 + length;
            if (marker != 0xDA) continue;
            while (!(b[i] == 0xFF && b[i + 1] != 0x00 && b[i + 1] is not (>= 0xD0 and <= 0xD7))) i++;
        }
        return list;
    }

    [Fact]
    public void An_ac_refinement_symbol_whose_size_is_not_one_is_a_corrupt_code()
    {
        // misc-images/small.jpg is progressive with AC refinement scans (Ah > 0, Ss > 0). In the AC table defined just
        // before the first of them, every symbol of size 1 (a new coefficient of ±1) becomes size 2: libjpeg warns
        // "Corrupt JPEG data: bad Huffman code" for each use, reads one bit anyway, and Skia reports success.
        var jpeg = File.ReadAllBytes(Path.Combine(Vectors, "misc-images", "small.jpg"));
        var segments = Segments(jpeg);
        int changed = 0;
        for (int scan = 0; scan < segments.Count; scan++)
        {
            var (marker, body, _) = segments[scan];
            int n = jpeg[body];
            if (marker != 0xDA || jpeg[body + 1 + 2 * n] == 0 || jpeg[body + 3 + 2 * n] >> 4 == 0) continue; // not AC refinement
            // The table defined just before this scan serves it alone (the file redefines its tables before each scan).
            var dht = segments.Take(scan).Last(s => s.Marker == 0xC4);
            for (int t = dht.Body; t < dht.Body + dht.Length;)
            {
                int total = 0;
                for (int k = 1; k <= 16; k++) total += jpeg[t + k];
                if (jpeg[t] >> 4 == 1)
                {
                    for (int s = t + 17; s < t + 17 + total; s++)
                        if ((jpeg[s] & 15) == 1)
                        {
                            jpeg[s] = (byte)((jpeg[s] & 0xF0) | 2);
                            changed++;
                        }
                }
                t += 17 + total;
            }
        }
        Assert.True(changed > 0);

        using (var codec = SKCodec.Create(SKData.CreateCopy(jpeg)))
        {
            var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
            using var bitmap = new SKBitmap(info);
            Assert.Equal(SKCodecResult.Success, codec.GetPixels(info, bitmap.GetPixels())); // the decoder alone accepts it
        }
        var e = Assert.Throws<ModerationException>(() => ImageDecoder.Decode(jpeg));
        Assert.Equal(ErrorCodes.UndecodableMedia, e.Code);
        Assert.Contains("invalid Huffman code", e.Message);
    }

    /// <summary>Offsets of each scan's Ss byte (Se, then Ah/Al follow).</summary>
    private static List<int> SpectralBytes(byte[] jpeg) =>
        Segments(jpeg).Where(s => s.Marker == 0xDA).Select(s => s.Body + 1 + 2 * jpeg[s.Body]).ToList();

    [Fact]
    public void A_refinement_scan_whose_previous_bit_does_not_match_is_refused()
    {
        // misc-images/small.jpg codes luma AC 1-5 with Al = 2, then refines them from Ah = 2. With the first scan's Al
        // set to 0 (its data reads the same), libjpeg warns "Inconsistent progression sequence" and Skia reports
        // success: the refinement bits are added to coefficients that were already whole.
        var jpeg = File.ReadAllBytes(Path.Combine(Vectors, "misc-images", "small.jpg"));
        int first = SpectralBytes(jpeg).First(at => jpeg[at] > 0 && jpeg[at + 2] >> 4 == 0 && (jpeg[at + 2] & 15) > 0);
        jpeg[first + 2] &= 0xF0;

        using (var codec = SKCodec.Create(SKData.CreateCopy(jpeg)))
        {
            var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
            using var bitmap = new SKBitmap(info);
            Assert.Equal(SKCodecResult.Success, codec.GetPixels(info, bitmap.GetPixels()));
        }
        var e = Assert.Throws<ModerationException>(() => ImageDecoder.Decode(jpeg));
        Assert.Equal(ErrorCodes.UndecodableMedia, e.Code);
        Assert.Contains("progression", e.Message);
    }

    [Fact]
    public void A_progressive_jpeg_that_codes_a_coefficient_a_second_time_is_refused()
    {
        // A first scan over coefficients already coded replaces them (libjpeg says nothing): a progressive viewer shows
        // the picture of the earlier scans while the file loads and the later one when it is complete. Here the file's
        // DC scans (first pass, Al = 1, and its refinement) are repeated just before the end: the file is whole either way.
        var jpeg = File.ReadAllBytes(Path.Combine(Vectors, "misc-images", "small.jpg"));
        var segments = Segments(jpeg);
        var dcScans = Enumerable.Range(0, segments.Count)
            .Where(i => segments[i].Marker == 0xDA && jpeg[segments[i].Body + 1 + 2 * jpeg[segments[i].Body]] == 0).ToList();
        Assert.Equal(2, dcScans.Count);
        var repeated = new List<byte>(jpeg.AsSpan(0, jpeg.Length - 2).ToArray());
        foreach (int i in dcScans)
        {
            int start = segments[i].Body - 4, end = i + 1 < segments.Count ? segments[i + 1].Body - 4 : jpeg.Length - 2;
            repeated.AddRange(jpeg.AsSpan(start, end - start).ToArray());
        }
        byte[] twice = [.. repeated, 0xFF, 0xD9];
        Assert.Equal(0, JpegEntropy.Verify(jpeg));

        var e = Assert.Throws<ModerationException>(() => ImageDecoder.Decode(twice));
        Assert.Equal(ErrorCodes.UndecodableMedia, e.Code);
        Assert.Contains("progression", e.Message);
    }
}
