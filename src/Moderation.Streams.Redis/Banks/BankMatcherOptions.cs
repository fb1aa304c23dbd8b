using Moderation.Streams.Hashing.Banks;

namespace Moderation.Streams.Redis.Banks;

/// <summary>Settings of <see cref="BankMatcher"/>; <see cref="Validate"/> runs in its constructor.</summary>
public sealed record BankMatcherOptions
{
    /// <summary>Prefix of the bank keys (the same as the writers'); no <c>{</c> or <c>}</c>.</summary>
    public string KeyPrefix { get; init; } = "moderation:";

    /// <summary>What counts as a match.</summary>
    public BankMatchOptions Match { get; init; } = BankMatchOptions.Default;

    /// <summary>How often versions are compared even without a change message (a missed message costs at most this).</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often every bank is read again whatever its version says.</summary>
    public TimeSpan FullReloadInterval { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>After this long without a successful sync the banks count as unavailable (fail closed).</summary>
    public TimeSpan MaxStaleness { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Retries of a failed read (exponential backoff with jitter).</summary>
    public int RetryAttempts { get; init; } = 2;

    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Failed reads (within <see cref="BreakerSamplingDuration"/>) that open the circuit, as a share.</summary>
    public double BreakerFailureRatio { get; init; } = 0.5;

    public int BreakerMinimumThroughput { get; init; } = 4;

    public TimeSpan BreakerSamplingDuration { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan BreakerBreakDuration { get; init; } = TimeSpan.FromSeconds(5);

    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(KeyPrefix);
        if (KeyPrefix.AsSpan().IndexOfAny('{', '}') >= 0)
            throw new ArgumentException("KeyPrefix must not contain '{' or '}'.", nameof(KeyPrefix));
        ArgumentNullException.ThrowIfNull(Match);
        Match.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RefreshInterval, TimeSpan.Zero, nameof(RefreshInterval));
        ArgumentOutOfRangeException.ThrowIfLessThan(FullReloadInterval, RefreshInterval, nameof(FullReloadInterval));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxStaleness, RefreshInterval, nameof(MaxStaleness));
        ArgumentOutOfRangeException.ThrowIfNegative(RetryAttempts, nameof(RetryAttempts));
        if (BreakerFailureRatio is <= 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(BreakerFailureRatio), BreakerFailureRatio, "Must be in (0, 1].");
        ArgumentOutOfRangeException.ThrowIfLessThan(BreakerMinimumThroughput, 2, nameof(BreakerMinimumThroughput));
        ArgumentOutOfRangeException.ThrowIfLessThan(BreakerBreakDuration, TimeSpan.FromMilliseconds(500), nameof(BreakerBreakDuration));
    }
}
