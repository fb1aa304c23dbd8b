using System.Collections.Concurrent;
using Moderation.Streams.Contracts;
using Polly;
using Polly.CircuitBreaker;
using Polly.Registry;
using Polly.Retry;

namespace Moderation.Streams.Worker;

/// <summary>
/// Media reads with Polly: transient failures are retried with exponential backoff and jitter, and one circuit breaker
/// per origin (scheme, host and port of an <c>http(s)</c> URL) stops hammering a failing CDN while every other origin is
/// still fetched. Inline (<c>data</c>) and <c>file:</c> media pass no breaker: one failing source must never fail uploads
/// that do not depend on it. Permanent failures and exhausted retries surface as the contract's <c>media-unavailable</c>
/// (→ DLQ), never as a stalled partition.
/// </summary>
public sealed class MediaFetchResilience : IDisposable
{
    private readonly MediaRetryOptions _options;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline _local;
    // One pipeline (retry + breaker) per origin. Media:AllowedHosts admits subdomains, so uploads could name endless
    // origins: past MaxOrigins the rest share one breaker.
    private readonly ResiliencePipelineRegistry<string> _origins = new();
    private readonly ConcurrentDictionary<string, byte> _known = new();
    private const int MaxOrigins = 1024;
    private const string OtherOrigins = "other origins";

    public MediaFetchResilience(MediaRetryOptions options, TimeProvider? time = null)
    {
        _options = options;
        _time = time ?? TimeProvider.System;
        _local = Build(new ResiliencePipelineBuilder(), breaker: false).Build();
    }

    /// <summary>The breaker's key for <paramref name="media"/>: <c>scheme://host:port</c> (lower case) of an http(s) URL;
    /// null for inline and <c>file:</c> media, which pass no breaker.</summary>
    public static string? OriginOf(MediaRef media) =>
        media.Url is { } url && Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp)
            ? $"{uri.Scheme}://{uri.IdnHost.ToLowerInvariant()}:{uri.Port}"
            : null;

    public async Task<byte[]> ReadAsync(MediaRef media, Func<CancellationToken, Task<byte[]>> read, CancellationToken ct)
    {
        string? origin = OriginOf(media);
        if (origin is not null && !_known.ContainsKey(origin) && !(_known.Count < MaxOrigins && _known.TryAdd(origin, 0))) origin = OtherOrigins;
        var pipeline = origin is null ? _local : _origins.GetOrAddPipeline(origin, builder => Build(builder, breaker: true));
        try
        {
            return await pipeline.ExecuteAsync(async token => await read(token).ConfigureAwait(false), ct).ConfigureAwait(false);
        }
        catch (BrokenCircuitException e)
        {
            throw new ModerationException(ErrorCodes.MediaUnavailable, $"media fetches from {origin} keep failing: not trying for a while (circuit open)", e) { Transient = true };
        }
    }

    private ResiliencePipelineBuilder Build(ResiliencePipelineBuilder builder, bool breaker)
    {
        builder.TimeProvider = _time;
        var transient = new PredicateBuilder().Handle<ModerationException>(e => e.Transient);
        // Retry outside, breaker inside: every attempt counts for the breaker, and an open circuit is not retried.
        if (_options.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = transient,
                MaxRetryAttempts = _options.MaxRetries,
                Delay = _options.BaseDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
            });
        }
        if (breaker && _options.BreakerMinimumThroughput > 0)
        {
            builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = transient,
                FailureRatio = _options.BreakerFailureRatio,
                MinimumThroughput = Math.Max(2, _options.BreakerMinimumThroughput),
                SamplingDuration = _options.BreakerSamplingDuration,
                BreakDuration = _options.BreakerBreakDuration,
            });
        }
        return builder;
    }

    public void Dispose() => _origins.Dispose();
}
