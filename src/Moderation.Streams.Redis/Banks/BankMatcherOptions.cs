using System.ComponentModel.DataAnnotations;
using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing.Banks;

namespace Moderation.Streams.Redis.Banks;

/// <summary>Hash-bank matching (configuration section <c>Banks</c>; needs <c>Redis:Configuration</c>): the settings of
/// <see cref="BankMatcher"/>, bound directly; <see cref="Validate"/> runs at start and in its constructor.</summary>
public sealed record BankMatcherOptions : IValidatableObject
{
    /// <summary>Match uploads against the banks in Redis (when Redis is configured).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Largest Hamming distance that matches (upstream's PDQ threshold is 31).</summary>
    [Range(0, 47)]
    public int MaxDistance { get; init; } = BankMatchOptions.Default.MaxDistance;

    /// <summary>Hashes under this quality never match.</summary>
    [Range(0, 100)]
    public int MinQuality { get; init; } = BankMatchOptions.Default.MinQuality;

    /// <summary>Also match rotated and mirrored copies (the 8 dihedral hashes). On by default: a banked picture
    /// uploaded turned or mirrored would otherwise miss every bank.</summary>
    public bool Dihedral { get; init; } = BankMatchOptions.Default.Dihedral;

    /// <summary>How long the worker waits for the first load before it starts consuming.</summary>
    public TimeSpan StartupTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>When the banks are unavailable: <c>review</c> (default: a model <c>allow</c> becomes
    /// <c>review</c>, never silently allowing what a bank would have caught) or <c>model</c> (the model alone decides).</summary>
    [RegularExpression("^(review|model)$")]
    public string WhenUnavailable { get; init; } = "review";

    /// <summary>True unless <see cref="WhenUnavailable"/> is <c>model</c>.</summary>
    public bool FailClosed => WhenUnavailable != "model";

    /// <summary>Prefix of the bank keys (the same as the writers'); no <c>{</c> or <c>}</c>.</summary>
    public string KeyPrefix { get; init; } = "moderation:";

    /// <summary>What counts as a match (<see cref="MaxDistance"/>, <see cref="MinQuality"/>, <see cref="Dihedral"/>).</summary>
    public BankMatchOptions Match => new() { MaxDistance = MaxDistance, MinQuality = MinQuality, Dihedral = Dihedral };

    /// <summary>How often versions are compared even without a change message (a missed message costs at most this).</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often every bank is read again whatever its version says (at least <see cref="RefreshInterval"/>).</summary>
    public TimeSpan FullReloadInterval { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>After this long without a successful sync the banks count as unavailable (fail closed).</summary>
    public TimeSpan MaxStaleness { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Start from bank snapshots (binary blocks of a whole bank, <c>bank snapshot</c>) where there is one, and
    /// write one, in the background, after reading a bank of <see cref="SnapshotMinEntries"/> or more whole without one
    /// (one worker of many: a lock in the store). A worker starting cold then reads a 10M-hash bank as ~150 values
    /// instead of scanning 10M fields. Off: every bank is scanned.</summary>
    public bool Snapshots { get; init; } = true;

    /// <summary>Banks smaller than this get no automatic snapshot (scanning them is quick).</summary>
    [Range(1, int.MaxValue)]
    public int SnapshotMinEntries { get; init; } = 100_000;

    /// <summary>A snapshot with more changed ids since it was written than this share of the bank (and over 1,000) is
    /// written again after the next full re-read.</summary>
    [Range(0.0, 1.0)]
    public double SnapshotRefreshShare { get; init; } = 0.125;

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
        Match.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(StartupTimeout, TimeSpan.Zero, nameof(StartupTimeout));
        if (WhenUnavailable is not ("review" or "model"))
            throw new ArgumentException($"WhenUnavailable '{WhenUnavailable}' must be 'review' or 'model'.", nameof(WhenUnavailable));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RefreshInterval, TimeSpan.Zero, nameof(RefreshInterval));
        ArgumentOutOfRangeException.ThrowIfLessThan(FullReloadInterval, RefreshInterval, nameof(FullReloadInterval));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxStaleness, RefreshInterval, nameof(MaxStaleness));
        ArgumentOutOfRangeException.ThrowIfNegative(RetryAttempts, nameof(RetryAttempts));
        ArgumentOutOfRangeException.ThrowIfLessThan(SnapshotMinEntries, 1, nameof(SnapshotMinEntries));
        if (SnapshotRefreshShare is < 0 or > 1 || double.IsNaN(SnapshotRefreshShare))
            throw new ArgumentOutOfRangeException(nameof(SnapshotRefreshShare), SnapshotRefreshShare, "Must be in [0, 1].");
        if (BreakerFailureRatio is <= 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(BreakerFailureRatio), BreakerFailureRatio, "Must be in (0, 1].");
        ArgumentOutOfRangeException.ThrowIfLessThan(BreakerMinimumThroughput, 2, nameof(BreakerMinimumThroughput));
        ArgumentOutOfRangeException.ThrowIfLessThan(BreakerBreakDuration, TimeSpan.FromMilliseconds(500), nameof(BreakerBreakDuration));
    }

    IEnumerable<ValidationResult> IValidatableObject.Validate(ValidationContext validationContext) => SettingsValidation.Run(Validate, "Banks");
}
