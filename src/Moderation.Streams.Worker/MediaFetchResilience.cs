using System.ComponentModel.DataAnnotations;
using Moderation.Streams.Contracts;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;

namespace Moderation.Streams.Worker;

/// <summary>Retry and circuit-breaker settings for reading media (configuration section <c>Media:Retry</c>).</summary>
public sealed class MediaRetryOptions : IValidatableObject
{
    /// <summary>Retries of a transient failure (HTTP 5xx/429/408, timeout, connection error); 0 = none.</summary>
    [Range(0, 10)]
    public int MaxRetries { get; set; } = 2;

    /// <summary>First backoff; doubled each retry, with jitter.</summary>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Share of failing fetches (over <see cref="BreakerSamplingDuration"/>, at least
    /// <see cref="BreakerMinimumThroughput"/> of them) that opens the breaker: fetches then fail fast for
    /// <see cref="BreakerBreakDuration"/> instead of piling up on a dead CDN.</summary>
    [Range(0.01, 1.0)]
    public double BreakerFailureRatio { get; set; } = 0.8;
    [Range(2, int.MaxValue)]
    public int BreakerMinimumThroughput { get; set; } = 20;
    public TimeSpan BreakerSamplingDuration { get; set; } = TimeSpan.FromSeconds(30);
    public TimeSpan BreakerBreakDuration { get; set; } = TimeSpan.FromSeconds(10);

    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext)
    {
        // Polly's own limits: a sampling window of at least 0.5 s and a break of at least 0.5 s.
        if (BaseDelay < TimeSpan.Zero) yield return new ValidationResult("Media:Retry:BaseDelay must not be negative", [nameof(BaseDelay)]);
        if (BreakerSamplingDuration < TimeSpan.FromMilliseconds(500)) yield return new ValidationResult("Media:Retry:BreakerSamplingDuration must be at least 0.5 s", [nameof(BreakerSamplingDuration)]);
        if (BreakerBreakDuration < TimeSpan.FromMilliseconds(500)) yield return new ValidationResult("Media:Retry:BreakerBreakDuration must be at least 0.5 s", [nameof(BreakerBreakDuration)]);
    }
}

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
