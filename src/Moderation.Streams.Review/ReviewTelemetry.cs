using System.Diagnostics.Metrics;

namespace Moderation.Streams.Review;

/// <summary>The console's metrics (meter <see cref="MeterName"/>): queue depth and oldest age (observed from Redis),
/// claim-to-verdict time, verdicts by reviewer and outcome, overturns, invalid records, login failures.</summary>
public sealed class ReviewTelemetry : IDisposable
{
    public const string MeterName = "Moderation.Streams.Review";
    public const string QueueDepthGauge = "moderation.review.queue.depth";
    public const string OldestAgeGauge = "moderation.review.queue.oldest_age";
    public const string VerdictsCounter = "moderation.review.verdicts";
    public const string OverturnsCounter = "moderation.review.overturns";
    public const string ClaimToVerdictHistogram = "moderation.review.claim_to_verdict.duration";
    public const string QueuedCounter = "moderation.review.queued";
    public const string InvalidCounter = "moderation.review.invalid";
    public const string LoginFailuresCounter = "moderation.review.login.failures";

    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _verdicts, _overturns, _queued, _invalid, _loginFailures;
    private readonly Histogram<double> _claimToVerdict;
    private long _depth;
    private double _oldestAgeSeconds;

    public ReviewTelemetry()
    {
        _verdicts = _meter.CreateCounter<long>(VerdictsCounter, description: "Verdicts published, by reviewer and verdict");
        _overturns = _meter.CreateCounter<long>(OverturnsCounter, description: "Allow verdicts on items the machine flagged");
        _queued = _meter.CreateCounter<long>(QueuedCounter, description: "Review decisions queued");
        _invalid = _meter.CreateCounter<long>(InvalidCounter, description: "Records on the review topic that were not review decisions (sent to the DLQ)");
        _loginFailures = _meter.CreateCounter<long>(LoginFailuresCounter, description: "Failed or refused logins (form and HTTP Basic)");
        _claimToVerdict = _meter.CreateHistogram<double>(ClaimToVerdictHistogram, unit: "s", description: "Time from claim to verdict");
        _meter.CreateObservableGauge(QueueDepthGauge, () => Interlocked.Read(ref _depth), description: "Items waiting for a verdict");
        _meter.CreateObservableGauge(OldestAgeGauge, () => Volatile.Read(ref _oldestAgeSeconds), unit: "s", description: "Age of the oldest waiting item");
    }

    public void Verdict(string reviewer, string verdict, bool overturned, TimeSpan? sinceClaim)
    {
        _verdicts.Add(1, new("reviewer", reviewer), new("verdict", verdict));
        if (overturned) _overturns.Add(1);
        if (sinceClaim is { } t) _claimToVerdict.Record(t.TotalSeconds);
    }

    public void Queued() => _queued.Add(1);
    public void Invalid() => _invalid.Add(1);
    public void LoginFailed(string how) => _loginFailures.Add(1, new KeyValuePair<string, object?>("via", how));

    public void Observe(long depth, TimeSpan oldestAge)
    {
        Interlocked.Exchange(ref _depth, depth);
        Volatile.Write(ref _oldestAgeSeconds, oldestAge.TotalSeconds);
    }

    public void Dispose() => _meter.Dispose();
}
