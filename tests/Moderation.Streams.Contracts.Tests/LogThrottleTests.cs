using Microsoft.Extensions.Time.Testing;

namespace Moderation.Streams.Contracts.Tests;

public sealed class LogThrottleTests
{
    [Fact]
    public void The_first_of_a_kind_is_logged_repeats_within_the_interval_are_counted_and_reported_with_the_next_line()
    {
        var time = new FakeTimeProvider();
        var throttle = new LogThrottle(TimeSpan.FromSeconds(30), time);

        Assert.True(throttle.ShouldLog("down", out long first));
        Assert.Equal(0, first);
        for (int i = 0; i < 499; i++) Assert.False(throttle.ShouldLog("down", out _));
        Assert.True(throttle.ShouldLog("other", out _)); // kinds are throttled apart

        time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(throttle.ShouldLog("down", out long suppressed));
        Assert.Equal(499, suppressed);
        Assert.False(throttle.ShouldLog("down", out _));
    }
}
