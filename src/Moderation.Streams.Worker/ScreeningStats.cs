using System.Collections.Concurrent;

namespace Moderation.Streams.Worker;

/// <summary>Counters of one worker: decisions by action, DLQ records by code, cache hits. Decisions are also exported as
/// OpenTelemetry metrics through <see cref="WorkerTelemetry"/>'s meter; DLQ records by the consume loop's (<c>moderation.dlq</c>).</summary>
public sealed class ScreeningStats
{

    private readonly ConcurrentDictionary<string, long> _decisions = new();
    private readonly ConcurrentDictionary<string, long> _dlq = new();
    private long _cacheHits, _cacheUnavailable;

    /// <param name="reason">What decided: <c>model</c>, <c>bank</c>, <c>cache</c> or <c>fail-closed</c>.</param>
    public void Decision(string action, bool cached, long latencyMs, string reason = "model")
    {
        _decisions.AddOrUpdate(action, 1, (_, n) => n + 1);
        if (cached) Interlocked.Increment(ref _cacheHits);
        WorkerTelemetry.Decisions.Add(1, new KeyValuePair<string, object?>("action", action), new KeyValuePair<string, object?>("cached", cached),
            new KeyValuePair<string, object?>("reason", reason));
        WorkerTelemetry.DecisionDuration.Record(latencyMs / 1000.0);
    }

    public void DeadLetter(string code)
    {
        // The metric is counted where the record is published (UploadConsumer), so no path that writes one is missed.
        _dlq.AddOrUpdate(code, 1, (_, n) => n + 1);
    }

    public void CacheUnavailable() => Interlocked.Increment(ref _cacheUnavailable);

    public long CacheHits => Interlocked.Read(ref _cacheHits);
    public long CacheUnavailableCount => Interlocked.Read(ref _cacheUnavailable);
    public IReadOnlyDictionary<string, long> Decisions => _decisions;
    public IReadOnlyDictionary<string, long> DeadLetters => _dlq;
}
