using Moderation.Streams.Kafka.Replay;

namespace Moderation.Streams.Kafka.Tests.Replay;

public sealed class ReplayBoundTests
{
    [Fact]
    public void Words_timestamps_unix_milliseconds_and_offset_lists_are_understood()
    {
        Assert.IsType<ReplayBound.Now>(ReplayBound.Parse("now"));
        Assert.IsType<ReplayBound.Earliest>(ReplayBound.Parse("earliest"));
        Assert.IsType<ReplayBound.Earliest>(ReplayBound.Parse("Beginning"));
        Assert.Equal(new DateTimeOffset(2026, 11, 25, 10, 0, 0, TimeSpan.Zero), Assert.IsType<ReplayBound.AtTime>(ReplayBound.Parse("2026-11-25T10:00:00Z")).Time);
        Assert.Equal(new DateTimeOffset(2026, 11, 25, 9, 0, 0, TimeSpan.Zero), Assert.IsType<ReplayBound.AtTime>(ReplayBound.Parse("2026-11-25T10:00:00+01:00")).Time);
        // Without an offset a timestamp is UTC, whatever the machine's zone.
        Assert.Equal(new DateTimeOffset(2026, 11, 25, 10, 0, 0, TimeSpan.Zero), Assert.IsType<ReplayBound.AtTime>(ReplayBound.Parse("2026-11-25T10:00:00")).Time);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1764064800123), Assert.IsType<ReplayBound.AtTime>(ReplayBound.Parse("@1764064800123")).Time);
        var offsets = Assert.IsType<ReplayBound.AtOffsets>(ReplayBound.Parse("0:120, 3:7"));
        Assert.Equal(new Dictionary<int, long> { [0] = 120, [3] = 7 }, offsets.Offsets);
        Assert.Equal("0:120,3:7", offsets.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("yesterday")]
    [InlineData("0:1,0:2")]
    [InlineData("0:-1")]
    [InlineData("0:1,x:2")]
    [InlineData("@-5")]
    public void Anything_else_is_refused_with_a_message_naming_the_accepted_forms(string text)
    {
        var e = Assert.Throws<FormatException>(() => ReplayBound.Parse(text));
        Assert.Contains(text.Trim(), e.Message);
    }
}
