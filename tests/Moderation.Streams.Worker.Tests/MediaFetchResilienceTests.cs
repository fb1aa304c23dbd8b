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

    private static ModerationException Transient() => new(ErrorCodes.MediaUnavailable, "HTTP 503") { Transient = true };

    [Fact]
    public async Task A_transient_failure_is_retried_until_the_media_comes()
    {
        var calls = new Counter();
        var bytes = await new MediaFetchResilience(Fast).ReadAsync(FailingTimes(2, Transient(), calls), Ct);
        Assert.Equal(new byte[] { 1, 2, 3 }, bytes);
        Assert.Equal(3, calls.Calls);
    }

    [Fact]
    public async Task Exhausted_retries_surface_the_contract_error_for_the_dlq()
    {
        var calls = new Counter();
        var error = await Assert.ThrowsAsync<ModerationException>(() => new MediaFetchResilience(Fast).ReadAsync(FailingTimes(10, Transient(), calls), Ct));
        Assert.Equal(ErrorCodes.MediaUnavailable, error.Code);
        Assert.Equal(3, calls.Calls);
    }

    [Fact]
    public async Task Permanent_failures_are_not_retried()
    {
        var calls = new Counter();
        var permanent = new ModerationException(ErrorCodes.ForbiddenUrl, "not on the allow-list");
        var error = await Assert.ThrowsAsync<ModerationException>(() => new MediaFetchResilience(Fast).ReadAsync(FailingTimes(10, permanent, calls), Ct));
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
            await Assert.ThrowsAsync<ModerationException>(() => resilience.ReadAsync(FailingTimes(100, Transient(), calls), Ct));
        int before = calls.Calls;
        var error = await Assert.ThrowsAsync<ModerationException>(() => resilience.ReadAsync(FailingTimes(100, Transient(), calls), Ct));
        Assert.Equal(before, calls.Calls); // not even tried
        Assert.Equal(ErrorCodes.MediaUnavailable, error.Code);
        Assert.Contains("circuit open", error.Message);
    }
}
