using Moderation.Streams.Contracts;

namespace Moderation.Streams.Worker.Tests;

public class MediaFetchResilienceTests
{
    private static readonly MediaRetryOptions Fast = new() { MaxRetries = 2, BaseDelay = TimeSpan.Zero, BreakerMinimumThroughput = 0 };
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Func<CancellationToken, Task<byte[]>> FailingTimes(int failures, ModerationException error, Counter counter) => _ =>
    {
        counter.Calls++;
        if (counter.Calls <= failures) throw error;
        return Task.FromResult(new byte[] { 1, 2, 3 });
    };

    private sealed class Counter
    {
        public int Calls;
    }

    private static readonly MediaRef Cdn = new() { Url = "https://cdn-a.example/x.jpg" };

    private static ModerationException Transient() => new(ErrorCodes.MediaUnavailable, "HTTP 503") { Transient = true };

    [Fact]
    public async Task A_transient_failure_is_retried_until_the_media_comes()
    {
        var calls = new Counter();
        var bytes = await new MediaFetchResilience(Fast).ReadAsync(Cdn, FailingTimes(2, Transient(), calls), Ct);
        Assert.Equal(new byte[] { 1, 2, 3 }, bytes);
        Assert.Equal(3, calls.Calls);
    }

    [Fact]
    public async Task Exhausted_retries_surface_the_contract_error_for_the_dlq()
    {
        var calls = new Counter();
        var error = await Assert.ThrowsAsync<ModerationException>(() => new MediaFetchResilience(Fast).ReadAsync(Cdn, FailingTimes(10, Transient(), calls), Ct));
        Assert.Equal(ErrorCodes.MediaUnavailable, error.Code);
        Assert.Equal(3, calls.Calls);
    }

    [Fact]
    public async Task Permanent_failures_are_not_retried()
    {
        var calls = new Counter();
        var permanent = new ModerationException(ErrorCodes.ForbiddenUrl, "not on the allow-list");
        var error = await Assert.ThrowsAsync<ModerationException>(() => new MediaFetchResilience(Fast).ReadAsync(Cdn, FailingTimes(10, permanent, calls), Ct));
        Assert.Equal(ErrorCodes.ForbiddenUrl, error.Code);
        Assert.Equal(1, calls.Calls);
    }

    [Fact]
    public async Task A_source_that_keeps_failing_opens_the_breaker_and_later_reads_fail_fast()
    {
        var options = new MediaRetryOptions { MaxRetries = 0, BreakerMinimumThroughput = 4, BreakerFailureRatio = 0.5, BreakerBreakDuration = TimeSpan.FromMinutes(5) };
        var resilience = new MediaFetchResilience(options);
        var calls = new Counter();
        for (int i = 0; i < 4; i++)
            await Assert.ThrowsAsync<ModerationException>(() => resilience.ReadAsync(Cdn, FailingTimes(100, Transient(), calls), Ct));
        int before = calls.Calls;
        var error = await Assert.ThrowsAsync<ModerationException>(() => resilience.ReadAsync(Cdn, FailingTimes(100, Transient(), calls), Ct));
        Assert.Equal(before, calls.Calls); // not even tried
        Assert.Equal(ErrorCodes.MediaUnavailable, error.Code);
        Assert.Contains("circuit open", error.Message);
    }

    private static readonly MediaRetryOptions BreakAfterFour = new()
    {
        MaxRetries = 0, BreakerMinimumThroughput = 4, BreakerFailureRatio = 0.5, BreakerBreakDuration = TimeSpan.FromMinutes(5),
    };

    [Fact]
    public async Task One_failing_origin_opens_only_its_own_breaker_and_other_hosts_are_still_fetched()
    {
        var resilience = new MediaFetchResilience(BreakAfterFour);
        var failing = new Counter();
        for (int i = 0; i < 4; i++)
            await Assert.ThrowsAsync<ModerationException>(() => resilience.ReadAsync(Cdn, FailingTimes(100, Transient(), failing), Ct));
        var open = await Assert.ThrowsAsync<ModerationException>(() =>
            resilience.ReadAsync(new MediaRef { Url = "https://CDN-A.example/other.jpg" }, FailingTimes(100, Transient(), failing), Ct));
        Assert.Contains("circuit open", open.Message);
        Assert.Contains("cdn-a.example", open.Message);

        // Before the fix one breaker served every origin: these failed fast with "circuit open" without being tried.
        var healthy = new Counter();
        Assert.Equal([1, 2, 3], await resilience.ReadAsync(new MediaRef { Url = "https://cdn-b.example/y.jpg" }, FailingTimes(0, Transient(), healthy), Ct));
        Assert.Equal([1, 2, 3], await resilience.ReadAsync(new MediaRef { Url = "https://cdn-a.example:8443/y.jpg" }, FailingTimes(0, Transient(), healthy), Ct));
        Assert.Equal(2, healthy.Calls);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("file:///media/uploads/a.jpg")]
    public async Task Inline_and_file_media_never_pass_a_breaker(string? url)
    {
        var media = url is null ? new MediaRef { Data = [1, 2, 3] } : new MediaRef { Url = url };
        var resilience = new MediaFetchResilience(BreakAfterFour);
        var calls = new Counter();
        for (int i = 0; i < 6; i++)
        {
            var error = await Assert.ThrowsAsync<ModerationException>(() => resilience.ReadAsync(media, FailingTimes(100, Transient(), calls), Ct));
            Assert.DoesNotContain("circuit open", error.Message);
        }
        Assert.Equal(6, calls.Calls); // every read tried: no circuit opened
        Assert.Equal([1, 2, 3], await resilience.ReadAsync(media, FailingTimes(0, Transient(), new Counter()), Ct));
    }
}
