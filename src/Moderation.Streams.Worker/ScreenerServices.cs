using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Inference;
using Moderation.Streams.Kafka;
using Moderation.Streams.Redis.Banks;
using Moderation.Streams.Text;

namespace Moderation.Streams.Worker;

/// <summary>What every screener runs on: the shared batcher, the decision cache, the banks, counters, log and clock.</summary>
public sealed class ScreenerServices
{
    public required DynamicBatcher Batcher { get; init; }

    /// <summary>The decision cache; null = decisions are neither read from nor written to a cache.</summary>
    public CachedDecisions? Cache { get; init; }

    /// <summary>The hash banks; null = none configured.</summary>
    public BankMatcher? Banks { get; init; }

    /// <summary>The text banks to match captions and text items against now, or null when they cannot be trusted;
    /// null itself when none are configured.</summary>
    public Func<TextMatcher?>? TextBanks { get; init; }

    /// <summary>The exact file-hash banks (MD5 / SHA-256 of the media bytes); null = none configured.</summary>
    public Redis.DigestBanks.DigestBankMatcher? DigestBanks { get; init; }

    /// <summary>What the exact file-hash banks say about <paramref name="bytes"/>, before anything decodes them. Costs no
    /// digest at all while no digest bank holds an entry, and only the kinds some bank holds otherwise.</summary>
    public BankSignal ExactMatch(ReadOnlySpan<byte> bytes)
    {
        if (DigestBanks is not { } matcher) return BankSignal.NotConfigured;
        if (matcher.Current is not { } index) return BankSignal.Unavailable;
        if (index.Count == 0) return BankSignal.NoMatch;
        using var span = Stages.Start("digest lookup");
        var hits = index.Match(bytes);
        span?.SetTag("moderation.bank.matched", hits.Count > 0);
        return hits.Count == 0 ? BankSignal.NoMatch : BankSignal.FromHits(hits.Select(BankHits.Of));
    }

    /// <summary>Flood quarantine counters of bank entries (the policy's <c>bank_floods</c>); null = no store.</summary>
    public Redis.Banks.RedisBankFloods? BankFloods { get; init; }

    private readonly LogThrottle _floodLog = new(TimeSpan.FromSeconds(30));

    /// <summary><paramref name="banks"/> with each takedown-bank entry it matched counted against the policy's
    /// <c>bank_floods</c> rule, and the quarantined ones marked (their matches are at most reviews). A store that is down
    /// quarantines nothing (the banks keep their rules) and costs a throttled warning.</summary>
    /// <remarks>A match its bank's <c>enabled</c> share leaves out (a bank on trial, <see cref="PolicyBankRule.ActsOn"/>) is
    /// not counted: the upload is decided as if the bank were not there, so it cannot flood anyone's uploads, and counting
    /// it would quarantine an entry of a 10% trial after a tenth of the takedowns the rule allows. Such a match is only
    /// marked when its entry is already quarantined, so the trial decision on the shadow topic is what the bank would do.</remarks>
    public async Task<BankSignal> WithFloodsAsync(Policy policy, BankSignal banks, string contentId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(banks);
        ArgumentNullException.ThrowIfNull(contentId);
        if (policy.BankFloods is not { } floods || BankFloods is null || banks.Hits.Count == 0) return banks;
        List<(string Bank, string MatchId)> counted = [], untried = [];
        foreach (var h in banks.Hits)
        {
            var rule = policy.BankRule(h.Bank);
            if (policy.BankAction(h.Bank) != Actions.Takedown || !rule.Accepts(h.Distance, banks.Quality)) continue;
            (rule.ActsOn(contentId) ? counted : untried).Add((h.Bank, h.MatchId));
        }
        if (counted.Count == 0 && untried.Count == 0) return banks;
        try
        {
            var (quarantined, newly) = await BankFloods.CountAsync(counted, contentId, floods.Window, floods.Span, floods.MaxUploads, ct).ConfigureAwait(false);
            if (untried.Count > 0)
                quarantined = new HashSet<(string, string)>([.. quarantined, .. await BankFloods.QuarantinedAsync(untried, ct).ConfigureAwait(false)]);
            foreach (var (bank, id) in newly)
            {
                WorkerTelemetry.BankEntriesQuarantined.Add(1, new KeyValuePair<string, object?>("bank", bank));
                Logger.LogWarning("Bank entry {Bank}/{Id} quarantined: it matched more than {Max} uploads in {Window}; its matches are reviews until `moderation bank release --bank {Bank} --id {Id}`",
                    bank, id, floods.MaxUploads, floods.Window, bank, id);
            }
            return quarantined.Count == 0 ? banks
                : BankSignal.FromHits(banks.Hits.Select(h => quarantined.Contains((h.Bank, h.MatchId)) ? h with { Quarantined = true } : h), banks.Quality);
        }
        catch (Redis.StoreUnavailableException e)
        {
            if (_floodLog.ShouldLog("floods", out long suppressed))
                Logger.LogWarning("Bank flood counters unavailable, nothing quarantined: {Message} ({Suppressed} more since the last line)", e.Message, suppressed);
            return banks;
        }
    }

    /// <summary>The policy's uploader and campaign rules, applied over each content decision; off by default.</summary>
    public UploaderRules Uploaders { get; init; } = UploaderRules.Off;

    /// <summary><c>Banks:WhenUnavailable</c> is <c>review</c>: while the banks cannot be trusted nothing is allowed on the model alone.</summary>
    public bool BanksFailClosed { get; init; } = true;

    public required ScreeningStats Stats { get; init; }
    public required ILogger Logger { get; init; }
    public TimeProvider Time { get; init; } = TimeProvider.System;

    public string ModelName => Batcher.Classifier.Model.Name;
    public string ModelVersion => Batcher.Classifier.Model.VersionedName;

    /// <summary><paramref name="signals"/> with what the text banks say about <paramref name="text"/> (a caption, or a text
    /// item's text) in <paramref name="field"/>. Meaning banks embed the text through the sentence model's batcher.</summary>
    public async Task<UploadSignals> WithTextAsync(UploadSignals signals, string? text, string field, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(signals);
        if (string.IsNullOrEmpty(text)) return signals;
        signals = signals with { HasText = true };
        if (TextBanks is null) return signals;
        if (TextBanks() is not { } matcher)
        {
            WorkerTelemetry.TextScreened.Add(1, new("field", field), new("outcome", "unavailable"));
            return signals with { TextBanks = BankStatus.Unavailable };
        }
        if (matcher.BankCount == 0) return signals; // no text bank exists: nothing to screen with, as if none were configured
        using var span = Stages.Start("text match");
        var matches = matcher.HasMeaningBanks ? await matcher.MatchAsync(text, ct).ConfigureAwait(false) : matcher.Match(text);
        var hits = matches.Select(m => m.Similarity is { } similarity
            ? new TextHit(field, m.Kind, m.Bank, m.Id, m.Category, Similarity: similarity)
            : new TextHit(field, m.Kind, m.Bank, m.Id, m.Category, m.Start, m.End)).ToArray();
        span?.SetTag("moderation.text.matches", hits.Length);
        WorkerTelemetry.TextScreened.Add(1, new("field", field), new("outcome", hits.Length > 0 ? "matched" : "clean"));
        foreach (var hit in hits) WorkerTelemetry.TextMatches.Add(1, new("field", field), new("kind", hit.Kind));
        return signals with { TextBanks = BankStatus.Checked, TextHits = hits };
    }

    /// <summary>What a screener made of an upload: the decision record of <paramref name="verdict"/> (<see cref="ToEvent"/>) and,
    /// when a bank tried on a share of uploads left this one out, the record of its <see cref="Verdict.WouldBe"/> under the
    /// policy version <c>V+trial</c>.</summary>
    public Screened ToScreened(Verdict verdict, string contentId, Policy policy, PdqInfo? pdq, SourceInfo source, long started,
        DecisionEvent? cached = null, Exception? failure = null, OutboundMessage? shadow = null)
    {
        ArgumentNullException.ThrowIfNull(verdict);
        ArgumentNullException.ThrowIfNull(policy);
        var decision = ToEvent(verdict, contentId, policy, pdq, source, started, cached);
        return new Screened(decision, failure, shadow)
        {
            BankTrial = verdict.WouldBe is { IsDeadLetter: false } wouldBe
                ? ToEvent(wouldBe, contentId, policy, pdq, source, started, cached) with { PolicyVersion = policy.ForBankTrial().Version, DecidedAt = decision.DecidedAt }
                : null,
        };
    }

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
