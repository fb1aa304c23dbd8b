using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using Moderation.Streams.Contracts;
using Polly;
using Polly.CircuitBreaker;
using Polly.Registry;
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

    /// <summary>Share of failing fetches from one origin (over <see cref="BreakerSamplingDuration"/>, at least
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
