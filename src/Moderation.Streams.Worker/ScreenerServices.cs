using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Inference;
using Moderation.Streams.Redis.Banks;

namespace Moderation.Streams.Worker;

/// <summary>What every screener runs on: the shared batcher, the decision cache, the banks, counters, log and clock.</summary>
public sealed class ScreenerServices
{
    public required DynamicBatcher Batcher { get; init; }

    /// <summary>The decision cache; null = decisions are neither read from nor written to a cache.</summary>
    public CachedDecisions? Cache { get; init; }

    /// <summary>The hash banks; null = none configured.</summary>
    public BankMatcher? Banks { get; init; }

    /// <summary><c>Banks:WhenUnavailable</c> is <c>review</c>: while the banks cannot be trusted nothing is allowed on the model alone.</summary>
    public bool BanksFailClosed { get; init; } = true;

    public required ScreeningStats Stats { get; init; }
    public required ILogger Logger { get; init; }
    public TimeProvider Time { get; init; } = TimeProvider.System;

    public string ModelName => Batcher.Classifier.Model.Name;
    public string ModelVersion => Batcher.Classifier.Model.VersionedName;

    /// <summary>The decision record for a verdict: a reused cached decision keeps its scores and versions and is marked
    /// cached; a bank takedown names no model; anything else names the model when it ran.</summary>
    /// <param name="pdq">The hash that stands for the upload (a video's: the frame that drove the decision).</param>
    /// <param name="cached">The cached decision the verdict reuses, if it does.</param>
    public DecisionEvent ToEvent(Verdict verdict, string contentId, Policy policy, PdqInfo? pdq, SourceInfo source, long started, DecisionEvent? cached = null)
    {
        ArgumentNullException.ThrowIfNull(verdict);
        if (verdict.IsDeadLetter) throw new ArgumentException("a dead-letter verdict has no decision record", nameof(verdict));
        var now = Time.GetUtcNow();
        long latencyMs = (long)Time.GetElapsedTime(started).TotalMilliseconds;
        if (verdict.FromCache && cached is not null)
            return cached with
            {
                ContentId = contentId, Action = verdict.Action, Reasons = verdict.Reasons, Cached = true, DecidedAt = now, LatencyMs = latencyMs, Source = source,
            };
        return new DecisionEvent
        {
            ContentId = contentId,
            Action = verdict.Action,
            Reasons = verdict.Reasons,
            Scores = verdict.Scores,
            Pdq = pdq,
            PolicyVersion = policy.Version,
            ModelVersion = verdict.ModelRan ? ModelVersion : null,
            DecidedAt = now,
            LatencyMs = latencyMs,
            Source = source,
        };
    }
}
