using SkiaSharp;

namespace Moderation.Streams.Hashing.Tests;

/// <summary>Properties the reference guarantees, on pictures made up here (see <see cref="SyntheticImages"/>).</summary>
public class UnseenImageTests
{
    private readonly PdqHasher _hasher = new();

    public static TheoryData<int, int, int, int> Pictures() => new()
    {
        { 37, 1000, 3, 1 }, { 1000, 37, 3, 2 }, { 1024, 768, 3, 3 }, { 640, 480, 3, 4 }, { 300, 200, 1, 5 }, { 100, 90, 3, 6 },
    };

    [Theory]
    [MemberData(nameof(Pictures))]
    public void A_png_round_trip_gives_the_identical_hash(int width, int height, int channels, int seed)
    {
        var image = SyntheticImages.Scene(width, height, seed, channels);

        var decoded = SyntheticImages.Decode(SyntheticImages.Encode(image, SKEncodedImageFormat.Png));

        Assert.Equal(image.Pixels, decoded.Pixels);
        Assert.Equal(image.Hash(_hasher), decoded.Hash(_hasher));
    }

    [Theory]
    [MemberData(nameof(Pictures))]
    public void A_jpeg_at_quality_90_stays_within_10_bits(int width, int height, int channels, int seed)
    {
        var image = SyntheticImages.Scene(width, height, seed, channels);
        var original = image.Hash(_hasher);

        var jpeg = SyntheticImages.Decode(SyntheticImages.Encode(image, SKEncodedImageFormat.Jpeg, 90)).Hash(_hasher);

        Assert.InRange(PdqHash.Distance(original.Hash, jpeg.Hash), 0, 10);
        Assert.InRange(original.Quality, 50, 100); // hashes a bank would keep
    }

    [Theory]
    [InlineData(640, 480)]
    [InlineData(1024, 768)]
    [InlineData(37, 1000)]
    public void Unrelated_pictures_are_more_than_31_bits_apart(int width, int height)
    {
        var hashes = Enumerable.Range(100, 8).Select(seed => SyntheticImages.Scene(width, height, seed).Hash(_hasher).Hash).ToList();

        for (int i = 0; i < hashes.Count; i++)
            for (int j = i + 1; j < hashes.Count; j++)
                Assert.True(PdqHash.Distance(hashes[i], hashes[j]) > 31, $"seeds {100 + i} and {100 + j}: {PdqHash.Distance(hashes[i], hashes[j])} bits");
    }

    [Fact]
    public void Median_threshold_sets_the_bits_of_the_coefficients_above_the_lower_median()
    {
        var result = SyntheticImages.Scene(640, 480, 7).Hash(_hasher);
        var dct = _hasher.LastDct.ToArray();
        var sorted = dct.Order().ToArray();

        for (int k = 0; k < 256; k++)
            Assert.Equal(dct[k] > sorted[127], result.Hash.GetBit(k)); // bit k is coefficient [k / 16][k % 16]
        Assert.Equal(128, result.Hash.PopCount);
    }
}
