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

    public const string ResultTag = "result";

    internal static readonly Meter Meter = new(MeterName);
    internal static readonly Counter<long> Lookups =
        Meter.CreateCounter<long>(LookupsCounter, "{lookup}", "Decision-cache lookups by result.");
    internal static readonly Counter<long> Writes =
        Meter.CreateCounter<long>(WritesCounter, "{write}", "Decision-cache writes by result.");
    internal static readonly Counter<long> BankLookups =
        Meter.CreateCounter<long>(BankLookupsCounter, "{lookup}", "Bank lookups by result (matched | no-match | unavailable).");
    internal static readonly Counter<long> BankSyncs =
        Meter.CreateCounter<long>(BankSyncsCounter, "{sync}", "Bank syncs with the store by result (ok | error).");
}
