namespace Moderation.Streams.Hashing.Tests;

/// <summary>The reference's rules around the core: the 512 resize, the 5-pixel minimum, grey input, buffer reuse.</summary>
public class PdqHasherTests
{
    private readonly PdqHasher _hasher = new();

    [Theory]
    [InlineData(1024, 768)]
    [InlineData(37, 1000)]
    [InlineData(513, 512)]
    [InlineData(3, 1000)]
    public void A_side_over_512_first_resizes_to_exactly_512_by_nearest_neighbour(int width, int height)
    {
        var image = SyntheticImages.Scene(width, height, width + height);
        var resized = new byte[512 * 512 * 3];
        for (int y = 0; y < 512; y++)
            for (int x = 0; x < 512; x++)
                Array.Copy(image.Pixels, (y * height / 512 * width + x * width / 512) * 3, resized, (y * 512 + x) * 3, 3);

        var result = image.Hash(_hasher);

        Assert.Equal(new RawImage(512, 512, 3, resized).Hash(_hasher), result);
        Assert.False(result.Hash.IsZero); // even 3 pixels wide: the minimum applies after the resize
    }

    [Theory]
    [InlineData(4, 4)]
    [InlineData(4, 400)]
    [InlineData(512, 4)]
    public void A_side_under_5_pixels_hashes_to_zero_with_quality_0(int width, int height)
    {
        var image = SyntheticImages.Scene(width, height, 1);

        Assert.Equal(new PdqResult(PdqHash.Zero, 0), image.Hash(_hasher));
        var dihedral = image.HashDihedral(_hasher);
        Assert.All(Enum.GetValues<PdqTransform>(), t => Assert.True(dihedral[t].IsZero));
        Assert.Equal(0, dihedral.Quality);
    }

    [Fact]
    public void Five_pixels_is_enough()
    {
        Assert.False(SyntheticImages.Scene(5, 5, 2).Hash(_hasher).Hash.IsZero);
    }

    [Fact]
    public void A_flat_picture_has_quality_0()
    {
        var flat = new byte[200 * 100 * 3];
        Array.Fill(flat, (byte)128);

        Assert.Equal(0, _hasher.Hash(flat, 200, 100, 3).Quality);
    }

    [Theory]
    [InlineData(300, 200)]
    [InlineData(1000, 700)]
    public void Grey_given_as_RGB_hashes_exactly_as_one_channel_grey(int width, int height)
    {
        var grey = SyntheticImages.Scene(width, height, 3, channels: 1);
        var rgb = new byte[grey.Pixels.Length * 3];
        for (int i = 0; i < grey.Pixels.Length; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = grey.Pixels[i];

        var asGrey = grey.Hash(_hasher);
        var greyDct = _hasher.LastDct.ToArray();
        var asRgb = _hasher.Hash(rgb, width, height, 3);

        Assert.Equal(asGrey, asRgb);
        Assert.Equal(greyDct, _hasher.LastDct.ToArray()); // the same floats, not just the same bits
    }

    [Fact]
    public void One_hasher_gives_each_picture_the_same_hash_whatever_it_hashed_before()
    {
        var large = SyntheticImages.Scene(1024, 768, 4);
        var small = SyntheticImages.Scene(90, 60, 5, channels: 1);
        var expectedSmall = small.Hash(new PdqHasher());
        var expectedLarge = large.HashDihedral(new PdqHasher());

        Assert.Equal(expectedLarge, large.HashDihedral(_hasher));
        Assert.Equal(expectedSmall, small.Hash(_hasher));
        Assert.Equal(expectedLarge, large.HashDihedral(_hasher));
    }

    [Fact]
    public void Hashing_allocates_nothing_once_warm()
    {
        var image = SyntheticImages.Scene(1024, 768, 6);
        image.Hash(_hasher);
        image.HashDihedral(_hasher);

        long before = GC.GetAllocatedBytesForCurrentThread();
        image.Hash(_hasher);
        image.HashDihedral(_hasher);
        long after = GC.GetAllocatedBytesForCurrentThread();

        Assert.Equal(0, after - before);
    }

    [Fact]
    public void Malformed_input_is_refused()
    {
        Assert.Throws<ArgumentException>(() => _hasher.Hash(new byte[10], 2, 2, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => _hasher.Hash(new byte[16], 2, 2, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => _hasher.Hash(new byte[8], 2, 2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => _hasher.Hash([], 0, 0, 3));
    }
}
