using System.Collections.Concurrent;
using System.Text;
using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Inference;
using Moderation.Streams.Kafka;

namespace Moderation.Streams.Worker;

/// <summary>
/// Turns the shadow model's scores for an upload into its would-be decision — the live policy (with the
/// shadow's own thresholds where it has them) applied to the candidate's scores, under the same fail-closed rule
/// — published to <see cref="KafkaOptions.ShadowTopic"/> with the live action beside it, and counted. It is
/// never acted on: the live decision is made before, and without, it.
/// </summary>
public sealed class ShadowDecisions(ShadowClassifier classifier, KafkaOptions kafka, TimeProvider? time = null)
{
    public const string LiveActionHeader = "moderation.shadow.live_action";
    public const string AgreementHeader = "moderation.shadow.agreement";

    /// <summary>Header naming what a shadow record tries: <see cref="BankTrialKind"/> for a bank tried on a share of uploads
    /// (a record of the shadow model has none).</summary>
    public const string KindHeader = "moderation.shadow.kind";
    public const string BankTrialKind = "bank-trial";

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ConcurrentDictionary<(string Live, string Shadow), long> _counts = new();
    private long _missing;

    public ShadowClassifier Classifier => classifier;

    /// <summary>Shadow decisions by (live action, shadow action).</summary>
    public IReadOnlyDictionary<(string Live, string Shadow), long> Counts => _counts;

    public long Total => _counts.Values.Sum();
    public long Agreed => _counts.Where(c => c.Key.Live == c.Key.Shadow).Sum(c => c.Value);

    /// <summary>Share of shadow decisions equal to the live one (1 when there were none).</summary>
    public double Agreement => Total == 0 ? 1 : (double)Agreed / Total;

    /// <summary>Model-screened uploads the candidate had no scores for (its batch failed).</summary>
    public long Missing => Interlocked.Read(ref _missing);

    /// <summary>The shadow record for <paramref name="live"/>, or null when the candidate has no scores for it.</summary>
    /// <param name="signals">The signals the live decision was made on (banks, surface): the candidate's scores replace the live model's.</param>
    public OutboundMessage? Decide(Policy policy, UploadSignals signals, ClassScores liveScores, DecisionEvent live)
    {
        if (classifier.TakeCandidate(liveScores) is not { } scores)
        {
            Interlocked.Increment(ref _missing);
            return null;
        }
        var shadowPolicy = policy.ForShadow();
        var verdict = Decider.Decide(shadowPolicy, signals with { Model = ModelSignal.Still(classifier.Candidate.Model.Name, scores.Labels, scores.Values) });
        string action = verdict.Action;
        var decision = live with
        {
            Action = action,
            Reasons = verdict.Reasons,
            Scores = verdict.Scores,
            PolicyVersion = shadowPolicy.Version,
            ModelVersion = classifier.Candidate.Model.VersionedName,
            DecidedAt = _time.GetUtcNow(),
        };
        bool agreed = action == live.Action;
        _counts.AddOrUpdate((live.Action, action), 1, (_, n) => n + 1);
        WorkerTelemetry.ShadowDecisionsMade.Add(1, new KeyValuePair<string, object?>("agreement", agreed),
            new KeyValuePair<string, object?>("live_action", live.Action), new KeyValuePair<string, object?>("shadow_action", action));
        var headers = new Headers
        {
            { LiveActionHeader, Encoding.ASCII.GetBytes(live.Action) },
            { AgreementHeader, Encoding.ASCII.GetBytes(agreed ? "agree" : "changed") },
        };
        if (live.Source is { } source)
            headers.Add(DecisionId.Header, Encoding.ASCII.GetBytes(
                DecisionId.For(live.ContentId, source.Topic, source.Partition, source.Offset, decision.PolicyVersion, decision.ModelVersion ?? "")));
        // Optional: a missing or failing shadow topic is counted and dropped, never holds up or stops live screening.
        return new OutboundMessage(kafka.ShadowTopic, Encoding.UTF8.GetBytes(live.ContentId), decision.ToUtf8Json(), headers) { Optional = true };
    }

    /// <summary>The shadow record of a match a bank's <c>enabled</c> share left out of <paramref name="live"/>: the decision
    /// had every bank acted on (<paramref name="trial"/>, policy version <c>V+trial</c>, its bank reason naming the bank,
    /// entry and distance), with the live action beside it. Optional, like the shadow model's.</summary>
    public static OutboundMessage BankTrial(KafkaOptions kafka, DecisionEvent live, DecisionEvent trial)
    {
        ArgumentNullException.ThrowIfNull(kafka);
        ArgumentNullException.ThrowIfNull(live);
        ArgumentNullException.ThrowIfNull(trial);
        bool agreed = trial.Action == live.Action;
        WorkerTelemetry.BankTrials.Add(1, new KeyValuePair<string, object?>("live_action", live.Action), new KeyValuePair<string, object?>("trial_action", trial.Action));
        var headers = new Headers
        {
            { LiveActionHeader, Encoding.ASCII.GetBytes(live.Action) },
            { AgreementHeader, Encoding.ASCII.GetBytes(agreed ? "agree" : "changed") },
            { KindHeader, Encoding.ASCII.GetBytes(BankTrialKind) },
        };
        if (live.Source is { } source)
            headers.Add(DecisionId.Header, Encoding.ASCII.GetBytes(
                DecisionId.For(live.ContentId, source.Topic, source.Partition, source.Offset, trial.PolicyVersion, trial.ModelVersion ?? "")));
        return new OutboundMessage(kafka.ShadowTopic, Encoding.UTF8.GetBytes(live.ContentId), trial.ToUtf8Json(), headers) { Optional = true };
    }
}
