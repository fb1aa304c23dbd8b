using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;

namespace Moderation.Streams.Redis;

/// <summary>The one Polly pipeline shape of every Redis call: retry (exponential backoff, jitter) around a
/// circuit breaker, so every attempt counts for the breaker and an open circuit is not retried; optionally a
/// per-attempt timeout inside.</summary>
internal static class StoreResilience
{
    public static ResiliencePipeline Build(PredicateBuilder<object> transient, int retryAttempts, TimeSpan retryBaseDelay,
        double failureRatio, int minimumThroughput, TimeSpan samplingDuration, TimeSpan breakDuration,
        TimeProvider time, TimeSpan? attemptTimeout = null)
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = time };
        if (retryAttempts > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = transient,
                MaxRetryAttempts = retryAttempts,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = retryBaseDelay,
            });
        }
        builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions
        {
            ShouldHandle = transient,
            FailureRatio = failureRatio,
            MinimumThroughput = minimumThroughput,
            SamplingDuration = samplingDuration,
            BreakDuration = breakDuration,
        });
        if (attemptTimeout is { } timeout) builder.AddTimeout(timeout);
        return builder.Build();
    }

    /// <summary>The pipeline of a shared-counter store (<see cref="RedisCacheOptions"/>' retry, breaker and per-attempt
    /// timeout; connection failures and timeouts are transient).</summary>
    public static ResiliencePipeline ForCounters(RedisCacheOptions? options, TimeProvider time)
    {
        options ??= new RedisCacheOptions();
        options.Validate();
        return Build(
            new PredicateBuilder().Handle<StackExchange.Redis.RedisConnectionException>().Handle<TimeoutException>().Handle<Polly.Timeout.TimeoutRejectedException>(),
            options.RetryAttempts, options.RetryBaseDelay, options.BreakerFailureRatio, options.BreakerMinimumThroughput,
            options.BreakerSamplingDuration, options.BreakerBreakDuration, time, options.OperationTimeout);
    }

    /// <summary>Everything the store or the pipeline can throw, but not the caller's own cancellation.</summary>
    public static bool IsStoreFailure(Exception ex, CancellationToken ct) => ex switch
    {
        OperationCanceledException when ct.IsCancellationRequested => false,
        StackExchange.Redis.RedisException or TimeoutException or ExecutionRejectedException => true,
        _ => false,
    };
}
