namespace Moderation.Streams.Hashing.Tests;

public class PdqHashTests
{
    private const string Bridge = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22";

    [Fact]
    public void Text_form_round_trips_in_lowercase()
    {
        Assert.Equal(Bridge, PdqHash.Parse(Bridge).ToString());
        Assert.Equal(Bridge, PdqHash.Parse(Bridge.ToUpperInvariant()).ToString());
    }

    [Fact]
    public void Hex_reads_as_a_big_endian_256_bit_integer_with_bit_k_of_weight_2_to_the_k()
    {
        var lowest = PdqHash.Parse(new string('0', 63) + "1");
        var highest = PdqHash.Parse("8" + new string('0', 63));
        var bit17 = PdqHash.Parse(new string('0', 59) + "20000");

        Assert.True(lowest.GetBit(0));
        Assert.Equal(1, lowest.PopCount);
        Assert.True(highest.GetBit(255));
        Assert.Equal(1UL << 63, highest.GetWord(3));
        Assert.True(bit17.GetBit(17));
        Assert.Equal((ushort)2, bit17.GetUInt16(1)); // the reference's w[1] holds bits 16..31
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b2")] // 63 digits
    [InlineData("d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b223")] // 65 digits
    [InlineData("g8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22")]
    [InlineData("+8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22")]
    [InlineData(" 8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22")]
    public void Anything_but_64_hex_digits_is_refused(string? text)
    {
        Assert.False(PdqHash.TryParse(text, out _));
        if (text is not null) Assert.Throws<FormatException>(() => PdqHash.Parse(text));
    }

    [Fact]
    public void Distance_counts_differing_bits()
    {
        var a = PdqHash.Parse(Bridge);
        var flipped = PdqHash.Parse("d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b23"); // bit 0
        var rot90 = PdqHash.Parse("f0a10efd51c83d429053d48d0fffbc52e34e0e17ada956a9d29685211ea9e58f");

        Assert.Equal(0, PdqHash.Distance(a, a));
        Assert.Equal(1, PdqHash.Distance(a, flipped));
        Assert.Equal(256, PdqHash.Distance(PdqHash.Zero, PdqHash.Parse(new string('f', 64))));
        Assert.Equal(120, PdqHash.Distance(a, rot90));
        Assert.Equal(PdqHash.Distance(a, rot90), PdqHash.Distance(rot90, a));
    }

    [Fact]
    public void Bytes_and_words_round_trip_in_hex_order()
    {
        var hash = PdqHash.Parse(Bridge);
        var bytes = new byte[PdqHash.ByteLength];
        hash.WriteBytes(bytes);
        Span<ulong> words = stackalloc ulong[4];
        hash.CopyTo(words);

        Assert.Equal(Bridge, Convert.ToHexStringLower(bytes));
        Assert.Equal(hash, PdqHash.FromBytes(bytes));
        Assert.Equal(hash, PdqHash.FromWords(words));
        Assert.Equal(0x33e6339c4e9c9b22UL, words[0]);
    }

    [Fact]
    public void Equal_hashes_are_equal_values()
    {
        Assert.Equal(PdqHash.Parse(Bridge), PdqHash.Parse(Bridge.ToUpperInvariant()));
        Assert.True(PdqHash.Parse(Bridge) == PdqHash.Parse(Bridge));
        Assert.Equal(PdqHash.Parse(Bridge).GetHashCode(), PdqHash.Parse(Bridge).GetHashCode());
        Assert.True(PdqHash.Zero.IsZero);
        Assert.NotEqual(PdqHash.Zero, PdqHash.Parse(Bridge));
    }
}
