using System.Diagnostics.Metrics;

namespace Moderation.Streams.Redis;

/// <summary>The one <see cref="Meter"/> of this component and the names it publishes.</summary>
public static class RedisCacheTelemetry
{
    public const string MeterName = "Moderation.Streams.Redis";

    /// <summary>Counter of decision-cache lookups, tagged <see cref="ResultTag"/> = hit | miss | error.</summary>
    public const string LookupsCounter = "moderation.cache.lookups";

    /// <summary>Counter of decision-cache writes, tagged <see cref="ResultTag"/> = ok | error.</summary>
    public const string WritesCounter = "moderation.cache.writes";

    public const string ResultTag = "result";

    internal static readonly Meter Meter = new(MeterName);
    internal static readonly Counter<long> Lookups =
        Meter.CreateCounter<long>(LookupsCounter, "{lookup}", "Decision-cache lookups by result.");
    internal static readonly Counter<long> Writes =
        Meter.CreateCounter<long>(WritesCounter, "{write}", "Decision-cache writes by result.");
}
