using Moderation.Streams.Contracts;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;

namespace Moderation.Streams.Worker;

/// <summary>
/// Media reads with Polly: transient failures are retried with exponential backoff and jitter, a circuit
/// breaker stops hammering a failing source; permanent failures and exhausted retries surface as the
/// contract's <c>media-unavailable</c> (→ DLQ), never as a stalled partition.
/// </summary>
public sealed class MediaFetchResilience
{
    private readonly ResiliencePipeline _pipeline;

    public MediaFetchResilience(MediaRetryOptions options, TimeProvider? time = null)
    {
        var transient = new PredicateBuilder().Handle<ModerationException>(e => e.Transient);
        var builder = new ResiliencePipelineBuilder { TimeProvider = time ?? TimeProvider.System };
        // Retry outside, breaker inside: every attempt counts for the breaker, and an open circuit is not retried.
        if (options.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = transient,
                MaxRetryAttempts = options.MaxRetries,
                Delay = options.BaseDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
            });
        }
        if (options.BreakerMinimumThroughput > 0)
        {
            builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = transient,
                FailureRatio = options.BreakerFailureRatio,
                MinimumThroughput = Math.Max(2, options.BreakerMinimumThroughput),
                SamplingDuration = options.BreakerSamplingDuration,
                BreakDuration = options.BreakerBreakDuration,
            });
        }
        _pipeline = builder.Build();
    }

    public async Task<byte[]> ReadAsync(Func<CancellationToken, Task<byte[]>> read, CancellationToken ct)
    {
        try
        {
            return await _pipeline.ExecuteAsync(async token => await read(token).ConfigureAwait(false), ct).ConfigureAwait(false);
        }
        catch (BrokenCircuitException e)
        {
            throw new ModerationException(ErrorCodes.MediaUnavailable, "media fetches keep failing: not trying for a while (circuit open)", e) { Transient = true };
        }
    }
}
