namespace Moderation.Streams.Redis;

/// <summary>Settings of <see cref="RedisDecisionCache"/>; <see cref="Validate"/> runs in its constructor.</summary>
public sealed record RedisCacheOptions
{
    /// <summary>Prefix of every key this layer writes; must not contain <c>{</c> or <c>}</c> (hash tags).</summary>
    public string KeyPrefix { get; init; } = "moderation:";

    /// <summary>How long a decision stays cached after it was last written.</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromDays(7);

    /// <summary>Deadline of one attempt against the store.</summary>
    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Retries after a failed attempt (0 = none). Delays grow exponentially, with jitter.</summary>
    public int RetryAttempts { get; init; } = 2;

    /// <summary>Delay before the first retry.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Share of failed attempts within <see cref="BreakerSamplingDuration"/> that opens the circuit.</summary>
    public double BreakerFailureRatio { get; init; } = 0.5;

    /// <summary>Attempts needed within <see cref="BreakerSamplingDuration"/> before the circuit may open.</summary>
    public int BreakerMinimumThroughput { get; init; } = 10;

    public TimeSpan BreakerSamplingDuration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an open circuit fails calls without touching the store (at least 0.5 s).</summary>
    public TimeSpan BreakerBreakDuration { get; init; } = TimeSpan.FromSeconds(5);

    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(KeyPrefix);
        if (KeyPrefix.AsSpan().IndexOfAny('{', '}') >= 0)
        {
            throw new ArgumentException("KeyPrefix must not contain '{' or '}': it would change the hash slot.", nameof(KeyPrefix));
        }

        Positive(Ttl, nameof(Ttl));
        Positive(OperationTimeout, nameof(OperationTimeout));
        Positive(BreakerSamplingDuration, nameof(BreakerSamplingDuration));
        ArgumentOutOfRangeException.ThrowIfNegative(RetryAttempts, nameof(RetryAttempts));
        ArgumentOutOfRangeException.ThrowIfNegative(RetryBaseDelay.Ticks, nameof(RetryBaseDelay));
        if (BreakerFailureRatio is <= 0 or > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(BreakerFailureRatio), BreakerFailureRatio, "Must be in (0, 1].");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(BreakerMinimumThroughput, 2, nameof(BreakerMinimumThroughput));
        ArgumentOutOfRangeException.ThrowIfLessThan(BreakerBreakDuration, TimeSpan.FromMilliseconds(500), nameof(BreakerBreakDuration));
    }

    private static void Positive(TimeSpan value, string name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero, name);
    }
}
