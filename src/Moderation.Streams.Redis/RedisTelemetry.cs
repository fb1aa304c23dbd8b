using System.Diagnostics.Metrics;

namespace Moderation.Streams.Redis;

/// <summary>The one <see cref="Meter"/> of this component (decision cache and hash banks) and the names it publishes.</summary>
public static class RedisTelemetry
{
    public const string MeterName = "Moderation.Streams.Redis";

    /// <summary>Counter of decision-cache lookups, tagged <see cref="ResultTag"/> = hit | miss | error.</summary>
    public const string LookupsCounter = "moderation.cache.lookups";

    /// <summary>Counter of decision-cache writes, tagged <see cref="ResultTag"/> = ok | error.</summary>
    public const string WritesCounter = "moderation.cache.writes";

    /// <summary>Counter of bank lookups, tagged <see cref="ResultTag"/> = matched | no-match | unavailable.</summary>
    public const string BankLookupsCounter = "moderation.bank.lookups";

    /// <summary>Counter of bank syncs with the store, tagged <see cref="ResultTag"/> = ok | error.</summary>
    public const string BankSyncsCounter = "moderation.bank.syncs";

    /// <summary>Histogram (s) of the time from a bank change written to the store to the matcher serving it, tagged
    /// <see cref="BankTag"/>: "time from import to matchable".</summary>
    public const string BankChangeDelayHistogram = "moderation.bank.change.delay";

    public const string ResultTag = "result";
    public const string BankTag = "bank";

    /// <summary>Bucket boundaries (seconds) of <see cref="BankChangeDelayHistogram"/>: the goal is 1 s.</summary>
    private static readonly double[] BankChangeDelayBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

    internal static readonly Meter Meter = new(MeterName);
    internal static readonly Counter<long> Lookups =
        Meter.CreateCounter<long>(LookupsCounter, "{lookup}", "Decision-cache lookups by result.");
    internal static readonly Counter<long> Writes =
        Meter.CreateCounter<long>(WritesCounter, "{write}", "Decision-cache writes by result.");
    internal static readonly Counter<long> BankLookups =
        Meter.CreateCounter<long>(BankLookupsCounter, "{lookup}", "Bank lookups by result (matched | no-match | unavailable).");
    internal static readonly Counter<long> BankSyncs =
        Meter.CreateCounter<long>(BankSyncsCounter, "{sync}", "Bank syncs with the store by result (ok | error).");
    internal static readonly Histogram<double> BankChangeDelay = Meter.CreateHistogram<double>(BankChangeDelayHistogram, "s",
        "Time from a bank change written to the store (its changed_at) to this matcher serving it, by bank",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = BankChangeDelayBuckets });
}
