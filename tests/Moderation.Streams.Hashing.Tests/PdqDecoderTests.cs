using Moderation.Streams.Media;
using SkiaSharp;

namespace Moderation.Streams.Hashing.Tests;

/// <summary>The fast decode path for hashing: exact where it decodes in full, within upstream's 10 bits where it scales.</summary>
public sealed class PdqDecoderTests
{
    [Fact]
    public void Rgba_pixels_hash_exactly_as_the_same_rgb_pixels_alpha_ignored_and_so_do_their_dihedral_hashes()
    {
        var hasher = new PdqHasher();
        foreach (var (w, h) in new[] { (300, 200), (1000, 700), (64, 64), (4, 9) })
        {
            var rgb = ImageDecoder.Decode(Media.SampleImages.Png(w * h, w, h)).Pixels;
            var rgba = new byte[w * h * 4];
            var random = new Random(w);
            for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
            {
                (rgba[j], rgba[j + 1], rgba[j + 2], rgba[j + 3]) = (rgb[i], rgb[i + 1], rgb[i + 2], (byte)random.Next(256));
            }
            var expected = hasher.Hash(rgb, w, h, 3);
            var expectedDihedral = hasher.DihedralOfLast();
            Assert.Equal(expected, hasher.HashDecoded(rgba, w, h, 4));
            Assert.Equal(expectedDihedral, hasher.DihedralOfLast());
        }
    }

    [Fact]
    public void Every_vector_decoded_by_the_fast_path_has_exactly_the_reference_hash()
    {
        // None of the vectors is a JPEG large enough to scale (bridge-1 at 1/2 would be 502 px high): all decode in full.
        var hasher = new PdqHasher();
        var decoder = new PdqDecoder();
        var rows = TestData.ReadCsv(TestData.VectorPath("expected", "reference-hashes.csv"));
        int checkedCount = 0;
        foreach (var row in rows)
        {
            var path = TestData.VectorPath(["data", .. row["file"].Split('/')]);
            if (!File.Exists(path) || !(path.EndsWith(".jpg") || path.EndsWith(".png"))) continue;
            var full = ImageDecoder.DecodeFile(path);
            var exact = hasher.Hash(full.Pixels, full.Width, full.Height, full.Channels);
            if (exact.Hash != PdqHash.Parse(row["hash_hex"])) continue; // files our decoder reads differently are covered elsewhere
            var fast = decoder.Decode(File.ReadAllBytes(path));
            Assert.Equal(1, fast.ScaleDenominator);
            Assert.Equal(exact, hasher.HashDecoded(fast.Pixels, fast.Width, fast.Height, fast.Channels));
            checkedCount++;
        }
        Assert.True(checkedCount >= 30, $"only {checkedCount} vectors checked");
    }

    [Theory]
    [InlineData(80)]
    [InlineData(90)]
    public void Large_jpegs_decode_at_half_scale_and_stay_within_10_bits_of_the_full_decode(int quality)
    {
        var hasher = new PdqHasher();
        var decoder = new PdqDecoder();
        using var photo = SKBitmap.Decode(TestData.VectorPath("data", "reg-test-input", "dih", "bridge-1-original.jpg"));
        using var large = photo.Resize(new SKImageInfo(1080, 1920, SKColorType.Rgba8888, SKAlphaType.Opaque), new SKSamplingOptions(SKFilterMode.Linear));
        var jpeg = Media.SampleImages.Encode(large, SKEncodedImageFormat.Jpeg, quality);

        var full = ImageDecoder.Decode(jpeg);
        var exact = hasher.Hash(full.Pixels, full.Width, full.Height, full.Channels);
        var fast = decoder.Decode(jpeg);

        Assert.Equal((2, 540, 960), (fast.ScaleDenominator, fast.Width, fast.Height));
        Assert.InRange(PdqHash.Distance(exact.Hash, hasher.HashDecoded(fast.Pixels, fast.Width, fast.Height, fast.Channels).Hash), 0, 10);
    }

    [Fact]
    public void Bad_media_is_refused_with_the_decoders_codes()
    {
        var decoder = new PdqDecoder();
        Assert.Equal("unsupported-media", Assert.Throws<Contracts.ModerationException>(() => decoder.Decode("not an image"u8)).Code);
        var jpeg = Media.SampleImages.Jpeg(3);
        Assert.Equal("undecodable-media", Assert.Throws<Contracts.ModerationException>(() => decoder.Decode(jpeg.AsSpan(0, jpeg.Length / 3))).Code);
        Assert.Equal("media-too-large", Assert.Throws<Contracts.ModerationException>(() => decoder.Decode(jpeg, new DecodeLimits { MaxPixels = 100 })).Code);
    }
}
