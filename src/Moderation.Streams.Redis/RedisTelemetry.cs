using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Moderation.Streams.Hashing.Banks;

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

    /// <summary>Counter of bank syncs with the store, tagged <see cref="ResultTag"/> = ok | error and <see cref="KindTag"/>.</summary>
    public const string BankSyncsCounter = "moderation.bank.syncs";

    /// <summary>Histogram (s) of the time from a bank change written to the store to the matcher serving it, tagged
    /// <see cref="BankTag"/> and <see cref="KindTag"/> (<c>pdq</c>, <c>digest</c>, <c>text</c>): "time from import to
    /// matchable".</summary>
    public const string BankChangeDelayHistogram = "moderation.bank.change.delay";

    /// <summary>Counter of banks brought up to date, tagged <see cref="KindTag"/> and <see cref="HowTag"/> = delta (from the
    /// changes' records) | whole (read whole: first load, records gone, a new epoch; a meaning bank that changed is always
    /// read whole) | resync (the periodic whole re-read) | recount (a hash bank whose entries did not add up to the
    /// store's count after a scan, read whole again).</summary>
    public const string BankCatchUpsCounter = "moderation.bank.catchups";

    /// <summary>Counter of bank snapshots read or written by this process, tagged <see cref="ResultTag"/> = read (a load
    /// from a snapshot) | unreadable (a block missing or damaged: the bank was scanned instead) | written | abandoned
    /// (the bank changed too much while it was written) | failed.</summary>
    public const string BankSnapshotsCounter = "moderation.bank.snapshots";

    /// <summary>Gauge of the entries of the live hash-bank index, tagged <see cref="PartTag"/> = base | overlay |
    /// removed (base entries removed since it was built, still in its memory).</summary>
    public const string BankIndexEntriesGauge = "moderation.bank.index.entries";

    /// <summary>Gauge (bytes) of the live hash-bank index, tagged <see cref="PartTag"/> = index (native: the multi-index
    /// tables and hashes) | columns (managed: ids and metadata).</summary>
    public const string BankIndexBytesGauge = "moderation.bank.index.bytes";

    public const string ResultTag = "result";
    public const string HowTag = "how";
    public const string PartTag = "part";
    public const string BankTag = "bank";

    /// <summary>Which banks a sync or catch-up is of: <c>pdq</c> (the hash banks), <c>text</c> (term, domain and meaning
    /// banks) or <c>digest</c> (exact file-hash banks).</summary>
    public const string KindTag = "kind";

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
        "Time from a bank change written to the store (its changed_at) to this matcher serving it, by bank and kind",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = BankChangeDelayBuckets });
    internal static readonly Counter<long> BankCatchUps =
        Meter.CreateCounter<long>(BankCatchUpsCounter, "{bank}", "Banks brought up to date, by how (delta | whole | resync | recount).");

    internal static readonly Counter<long> BankSnapshots =
        Meter.CreateCounter<long>(BankSnapshotsCounter, "{snapshot}", "Bank snapshots by result (read | unreadable | written | abandoned | failed).");

    // The live indexes of this process's matchers (one per worker; tests may run several).
    private static readonly ConcurrentDictionary<object, Func<BankIndex>> s_indexes = new();

    private static readonly ObservableGauge<long> BankIndexEntries = Meter.CreateObservableGauge(BankIndexEntriesGauge, () =>
    {
        long inBase = 0, overlay = 0, removed = 0;
        foreach (var index in s_indexes.Values.Select(i => i()))
            (inBase, overlay, removed) = (inBase + index.BaseCount, overlay + index.OverlayCount, removed + index.RemovedFromBase);
        return new[] { Part(inBase, "base"), Part(overlay, "overlay"), Part(removed, "removed") };
    }, "{entry}", "Entries of the live hash-bank index by part (base | overlay | removed).");

    private static readonly ObservableGauge<long> BankIndexBytes = Meter.CreateObservableGauge(BankIndexBytesGauge, () =>
    {
        long native = 0, columns = 0;
        foreach (var index in s_indexes.Values.Select(i => i()))
            (native, columns) = (native + index.MemoryBytes, columns + index.ColumnBytes);
        return new[] { Part(native, "index"), Part(columns, "columns") };
    }, "By", "Memory of the live hash-bank index by part (index: native tables and hashes | columns: ids and metadata).");

    private static Measurement<long> Part(long value, string part) => new(value, new KeyValuePair<string, object?>(PartTag, part));

    /// <summary>Reports <paramref name="index"/> in the index gauges until <see cref="Forget"/>.</summary>
    internal static void Observe(object owner, Func<BankIndex> index)
    {
        _ = (BankIndexEntries, BankIndexBytes);
        s_indexes[owner] = index;
    }

    internal static void Forget(object owner) => s_indexes.TryRemove(owner, out _);
}
