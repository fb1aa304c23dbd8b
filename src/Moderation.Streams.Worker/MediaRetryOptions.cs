using System.ComponentModel.DataAnnotations;

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
