using System.Text;

namespace Moderation.Streams.Redis.Tests;

/// <summary>
/// Redis Cluster's key → slot function (CRC16/XMODEM of the hash tag, or of the whole key, mod 16384),
/// computed here because a standalone server or multiplexer does not report slots.
/// </summary>
internal static class ClusterSlot
{
    public static int Of(string key)
    {
        var open = key.IndexOf('{', StringComparison.Ordinal);
        if (open >= 0)
        {
            var close = key.IndexOf('}', open + 1);
            if (close > open + 1)
            {
                key = key[(open + 1)..close];
            }
        }

        ushort crc = 0;
        foreach (var b in Encoding.UTF8.GetBytes(key))
        {
            crc ^= (ushort)(b << 8);
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 0x8000) != 0 ? (ushort)((crc << 1) ^ 0x1021) : (ushort)(crc << 1);
            }
        }

        return crc % 16384;
    }
}

public sealed class ClusterSlotTests
{
    [Theory]
    [InlineData("foo", 12182)] // CLUSTER KEYSLOT foo, from the Redis documentation
    [InlineData("123456789", 0x31C3 % 16384)] // the CRC16/XMODEM check value
    public void Matches_redis_cluster_keyslot(string key, int slot) => Assert.Equal(slot, ClusterSlot.Of(key));

    [Fact]
    public void Only_the_hash_tag_decides_the_slot() =>
        Assert.Equal(ClusterSlot.Of("{user1000}.following"), ClusterSlot.Of("{user1000}.followers"));
}
