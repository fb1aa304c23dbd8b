namespace Moderation.Streams.Contracts;

/// <summary>
/// The one decision function: every signal of an upload (<see cref="UploadSignals"/>) and the policy in force in, the
/// action and its reasons out. Pure: no I/O, no clock. The rules, in order:
/// <list type="number">
/// <item>A cached decision being reused stands, unless a bank matched since: a takedown bank takes it down, a review
/// bank makes it at least a review.</item>
/// <item>The bank match that decides is picked by the policy's bank rules (<see cref="DecisiveBank"/>: a bank's own
/// distance and quality limits, a <c>suppress</c> bank cancelling every match, a bank tried on a share of uploads acting
/// only on its share). A match in a bank whose rule is takedown (the default) takes the upload down; the model is not
/// needed.</item>
/// <item>An upload the model could not score is never allowed: <c>review</c>, or the DLQ, as the policy's
/// <c>unscreenable</c> says. An upload with neither a model score nor a bank takedown is a review.</item>
/// <item>Otherwise the model's scores against the policy's thresholds (per surface; for frames, the k-th highest frame
/// per class, k = <see cref="ModelSignal.MinFramesOverThreshold"/>).</item>
/// <item>Media screened only in part is never allowed (<see cref="PartialScreening"/>).</item>
/// <item>A match in a review bank makes the action at least a review (the model may still take it down).</item>
/// <item>Each text match in the caption or a text item's text raises the action to its category's rule (<see cref="Policy.Text"/>).
/// A text item has no model: its text decides, and with no text banks configured it is a review.</item>
/// <item>While the hash banks (or, for an upload with text, the text banks) are unavailable and the worker fails closed,
/// an allow becomes a review.</item>
/// </list>
/// A match a bank's <c>enabled</c> share leaves out is not acted on; the verdict had it been is <see cref="Verdict.WouldBe"/>.
/// The uploader's history and campaigns are applied to that decision afterwards (<see cref="ForUploader"/>), never cached.
/// Each step only raises the action (takedown &gt; review &gt; allow) and adds the reason that raised it.
/// </summary>
public static class Decider
{
    public const string BanksUnavailableCode = "banks-unavailable";
    public const string NotScreenedCode = "not-screened";
    public const string TextBanksUnavailableCode = "text-banks-unavailable";
    public const string UploaderSignalsUnavailableCode = "uploader-signals-unavailable";

    /// <summary>The code of a bank reason whose entry is quarantined (<see cref="PolicyBankFloods"/>).</summary>
    public const string QuarantinedCode = "quarantined";

    private const string QuarantinedMessage = "entry quarantined after matching too many uploads: review only until released";

    private static string JoinMessage(string? first, string second) => first is null ? second : $"{first}; {second}";

    public static Verdict Decide(Policy policy, UploadSignals signals)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(signals);
        var (bank, suppressor) = DecisiveBank(policy, signals.Banks, signals.ContentId);
        Verdict verdict;
        if (signals.Cached is { } cached) verdict = FromCache(policy, cached, bank);
        else if (bank is not null && BankAction(policy, bank) == Actions.Takedown) verdict = BankTakedown(bank, signals.NotCovered);
        else
        {
            verdict = Media(policy, signals);
            if (verdict.IsDeadLetter) return verdict;
            var (action, reasons) = PartialScreening.Apply(verdict.Action, verdict.Reasons, signals.NotCovered);
            if (bank is not null) (action, reasons) = (Actions.AtLeastReview(action), [BankReason(bank), .. reasons]);
            verdict = verdict with { Action = action, Reasons = reasons };
        }
        if (suppressor is not null) verdict = verdict with { Reasons = [.. verdict.Reasons, SuppressReason(suppressor)] };
        verdict = FailClosed(signals, Text(policy, signals, verdict));
        // Every bank acts in the trial policy, so this recurses once at most.
        return Untried(policy, signals.Banks, signals.ContentId).Count > 0 ? verdict with { WouldBe = Decide(policy.ForBankTrial(), signals) } : verdict;
    }

    /// <summary>
    /// The bank match that decides, by the policy's bank rules: matches a bank's own <c>max_distance</c> or
    /// <c>min_quality</c> refuses are dropped; a match in a <c>suppress</c> bank (known-benign hashes) cancels every bank
    /// match of the upload (<c>Suppressor</c>, the closest such); otherwise the match whose rule is most severe decides,
    /// the closest among equals. A bank tried on a share of uploads (<see cref="PolicyBankRule.Enabled"/>) takes part only
    /// for the uploads in its share (by <paramref name="contentId"/>).
    /// </summary>
    public static (BankHit? Decisive, BankHit? Suppressor) DecisiveBank(Policy policy, BankSignal banks, string contentId)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(banks);
        ArgumentNullException.ThrowIfNull(contentId);
        BankHit? decisive = null;
        int severity = -1;
        foreach (var hit in banks.Hits)
        {
            var rule = policy.BankRule(hit.Bank);
            if (!rule.Accepts(hit.Distance, banks.Quality) || !rule.ActsOn(contentId)) continue;
            if (rule.Action == PolicyBankRule.Suppress) return (null, hit); // hits come closest first
            int s = Actions.Severity(BankAction(policy, hit));
            if (s > severity) (decisive, severity) = (hit, s);
        }
        return (decisive, null);
    }

    /// <summary>The matches the bank rules accept but do not act on for <paramref name="contentId"/>: their bank is tried on
    /// a share of uploads (<see cref="PolicyBankRule.Enabled"/>) that leaves this one out. They would have matched.</summary>
    public static IReadOnlyList<BankHit> Untried(Policy policy, BankSignal banks, string contentId)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(banks);
        ArgumentNullException.ThrowIfNull(contentId);
        List<BankHit>? untried = null;
        foreach (var hit in banks.Hits)
        {
            var rule = policy.BankRule(hit.Bank);
            if (rule.Accepts(hit.Distance, banks.Quality) && !rule.ActsOn(contentId)) (untried ??= []).Add(hit);
        }
        return untried ?? (IReadOnlyList<BankHit>)[];
    }

    /// <summary>What a match does: its bank's rule, at most a review while the entry is quarantined.</summary>
    public static string BankAction(Policy policy, BankHit hit)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(hit);
        var action = policy.BankAction(hit.Bank);
        return hit.Quarantined && action == Actions.Takedown ? Actions.Review : action;
    }

    /// <summary>The reason a suppressing match gives: the known-benign entry that cancelled the bank matches.</summary>
    private static DecisionReason SuppressReason(BankHit hit) => new()
    {
        Source = "bank", Bank = hit.Bank, Distance = hit.Distance, MatchId = hit.MatchId, Code = PolicyBankRule.Suppress,
        Message = "known benign: cancels every bank match of this upload",
        EntryLabel = hit.EntryLabel, EntrySource = hit.EntrySource, AddedAt = hit.AddedAt, Digest = hit.Digest,
    };

    /// <summary>What the media (or, for a text item, the absence of media) says: the model's scores against the
    /// thresholds, or a fail-closed review (or the DLQ) when there are none.</summary>
    private static Verdict Media(Policy policy, UploadSignals signals)
    {
        if (signals.ModelFailure is { } failure)
        {
            var reason = FailClosed(ErrorCodes.Internal, failure);
            return new Verdict(policy.Unscreenable == Policy.DeadLetter ? Policy.DeadLetter : Actions.Review, [reason]) { ModelRan = true };
        }
        if (signals.Model is { } model) return Thresholds(policy, model, signals.Surface);
        if (signals.TextOnly)
            return signals.TextBanks == BankStatus.NotConfigured
                ? new Verdict(Actions.Review, [FailClosed(NotScreenedCode, "a text item, and no text banks are configured to screen it")])
                : new Verdict(Actions.Allow, []);
        return new Verdict(Actions.Review, [FailClosed(NotScreenedCode, "neither the model nor a takedown bank decided this upload")]);
    }

    /// <summary>Each text match raises the action to its category's rule (never lowers it) and adds its reason.</summary>
    private static Verdict Text(Policy policy, UploadSignals signals, Verdict verdict)
    {
        if (signals.TextHits.Count == 0) return verdict;
        string action = verdict.Action;
        var reasons = new List<DecisionReason>(verdict.Reasons);
        foreach (var hit in signals.TextHits)
        {
            var rule = policy.TextAction(hit.Category);
            if (Actions.Severity(rule) > Actions.Severity(action)) action = rule;
            reasons.Add(TextReason(hit));
        }
        return verdict with { Action = action, Reasons = reasons };
    }

    /// <summary>While the hash banks (or, for an upload with text, the text banks) cannot be trusted and the worker fails
    /// closed, an allow becomes a review.</summary>
    private static Verdict FailClosed(UploadSignals signals, Verdict verdict)
    {
        if (verdict.Action != Actions.Allow || !signals.BanksFailClosed) return verdict;
        if (signals.Banks.IsUnavailable)
            return verdict with { Action = Actions.Review, Reasons = [.. verdict.Reasons, FailClosed(BanksUnavailableCode, "hash banks unavailable: not allowed on the model alone")] };
        if (signals.HasText && signals.TextBanks == BankStatus.Unavailable)
            return verdict with { Action = Actions.Review, Reasons = [.. verdict.Reasons, FailClosed(TextBanksUnavailableCode, "text banks unavailable: the text was not screened")] };
        return verdict;
    }

    /// <summary>
    /// The content's decision with the uploader's history and campaigns on top (the policy's <c>uploaders</c> section).
    /// Applied after the content is decided, so the decision cache only ever holds what the content alone earned: the
    /// same picture from another uploader is decided on its own merits. Each rule that fires adds its reason and raises
    /// the action (strikes and velocity to at least review, a campaign to its action); none lowers it. While the counters
    /// are unavailable and <paramref name="failClosed"/>, an allow becomes a review.
    /// </summary>
    public static DecisionEvent ForUploader(Policy policy, DecisionEvent decision, UploaderSignal signal, bool failClosed)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(decision);
        ArgumentNullException.ThrowIfNull(signal);
        if (policy.Uploaders is not { } rules) return decision;
        if (signal.IsUnavailable)
            return failClosed && decision.Action == Actions.Allow
                ? decision with
                {
                    Action = Actions.Review,
                    Reasons = [.. decision.Reasons, FailClosed(UploaderSignalsUnavailableCode, "uploader and campaign counters unavailable: not allowed without them")],
                }
                : decision;
        string action = decision.Action;
        var reasons = new List<DecisionReason>(decision.Reasons);
        Count(rules.Strikes, signal.Strikes, "strikes");
        Count(rules.Velocity, signal.Velocity, "velocity");
        if (rules.Campaigns is { } campaign && signal.CampaignUploaders is int uploaders && uploaders >= campaign.DistinctUploaders)
        {
            if (Actions.Severity(campaign.Action) > Actions.Severity(action)) action = campaign.Action;
            reasons.Add(new DecisionReason { Source = "campaign", Uploaders = uploaders, Window = campaign.Window });
        }
        return reasons.Count == decision.Reasons.Count ? decision : decision with { Action = action, Reasons = reasons };

        void Count(PolicyCountRule? rule, int? count, string name)
        {
            if (rule is null || count is not int n || n < rule.ReviewAt) return;
            action = Actions.AtLeastReview(action);
            reasons.Add(new DecisionReason { Source = "uploader", Rule = name, Count = n, Window = rule.Window });
        }
    }

    /// <summary>The reason a text match gives.</summary>
    public static DecisionReason TextReason(TextHit hit)
    {
        ArgumentNullException.ThrowIfNull(hit);
        return new DecisionReason
        {
            Source = "text", Field = hit.Field, Kind = hit.Kind, Bank = hit.Bank, Id = hit.Id, Category = hit.Category,
            Start = hit.Start, End = hit.End, Similarity = hit.Similarity,
        };
    }

    /// <summary>The verdict when the signals gathered so far decide whatever the model would say (a match in a takedown
    /// bank, or text in a takedown category: it comes down without the cache or the model); null when the model is needed.</summary>
    public static Verdict? Settled(Policy policy, UploadSignals signals)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(signals);
        bool bankTakedown = DecisiveBank(policy, signals.Banks, signals.ContentId).Decisive is { } match && BankAction(policy, match) == Actions.Takedown;
        bool textTakedown = signals.TextHits.Any(h => policy.TextAction(h.Category) == Actions.Takedown);
        return signals.Cached is null && (bankTakedown || textTakedown) ? Decide(policy, signals) : null;
    }

    /// <summary>Whether a cached decision may stand for this upload: not a cached allow while the banks cannot be trusted
    /// (the allow was made when they could, and a match since cannot be ruled out).</summary>
    public static bool MayReuse(DecisionEvent cached, UploadSignals signals)
    {
        ArgumentNullException.ThrowIfNull(cached);
        ArgumentNullException.ThrowIfNull(signals);
        return !(signals.Banks.IsUnavailable && cached.Action == Actions.Allow);
    }

    /// <summary>Whether a fresh decision may be cached for the next identical upload: only one the model made with the
    /// banks trusted, no bank match and no text match (a caption travels with one upload, not with its media) (a bank decision is made again on every upload, as the bank may change; a fail-closed
    /// review must not outlive its cause).</summary>
    public static bool MayStore(UploadSignals signals, Verdict verdict)
    {
        ArgumentNullException.ThrowIfNull(signals);
        ArgumentNullException.ThrowIfNull(verdict);
        return signals.Model is not null && signals.ModelFailure is null && signals.Cached is null && signals.Banks.Match is null
            && !signals.Banks.IsUnavailable && signals.TextHits.Count == 0 && !verdict.IsDeadLetter;
    }

    /// <summary>The reason a bank match gives, with the entry's provenance (label, source, added_at) when known.</summary>
    public static DecisionReason BankReason(BankHit match)
    {
        ArgumentNullException.ThrowIfNull(match);
        return new DecisionReason
        {
            Source = "bank", Bank = match.Bank, Distance = match.Distance, MatchId = match.MatchId,
            Message = match.Quarantined ? JoinMessage(match.Message, QuarantinedMessage) : match.Message,
            Code = match.Quarantined ? QuarantinedCode : null,
            FrameTimestampsMs = match.FrameTimestampsMs, FramesSampled = match.FramesSampled,
            EntryLabel = match.EntryLabel, EntrySource = match.EntrySource, AddedAt = match.AddedAt, Digest = match.Digest,
        };
    }

    private static DecisionReason FailClosed(string code, string message) => new() { Source = "fail-closed", Code = code, Message = message };

    private static Verdict BankTakedown(BankHit match, string? notCovered)
    {
        var (action, reasons) = PartialScreening.Apply(Actions.Takedown, [BankReason(match)], notCovered);
        return new Verdict(action, reasons) { BankTakedown = match };
    }

    private static Verdict FromCache(Policy policy, DecisionEvent cached, BankHit? bank)
    {
        if (cached.Action == Actions.Takedown || bank is null)
            return new Verdict(cached.Action, cached.Reasons) { Scores = cached.Scores, FromCache = true, ModelRan = cached.ModelVersion is not null };
        if (BankAction(policy, bank) == Actions.Takedown)
            return BankTakedown(bank, cached.Reasons.FirstOrDefault(r => r.Code == PartialScreening.Code)?.Message);
        return new Verdict(Actions.AtLeastReview(cached.Action), [BankReason(bank), .. cached.Reasons])
        {
            Scores = cached.Scores, FromCache = true, ModelRan = cached.ModelVersion is not null,
        };
    }

    /// <summary>The policy's thresholds on the model's scores. For frames, each class scores its k-th highest frame, so an
    /// action needs k frames over its threshold, and each model reason lists the frames at or over it ("N of M frames").</summary>
    private static Verdict Thresholds(Policy policy, ModelSignal model, string? surface)
    {
        model.Validate();
        var labels = model.Labels;
        var frames = model.Frames;
        int k = Math.Min(model.MinFramesOverThreshold, frames.Count);
        var max = new Dictionary<string, float>(labels.Count, StringComparer.Ordinal);
        var kth = new Dictionary<string, float>(labels.Count, StringComparer.Ordinal);
        var column = new float[frames.Count];
        for (int l = 0; l < labels.Count; l++)
        {
            for (int f = 0; f < frames.Count; f++) column[f] = frames[f][l];
            Array.Sort(column);
            max[labels[l]] = column[^1];
            kth[labels[l]] = column[^k];
        }

        var (action, reasons) = policy.ApplyThresholds(model.Model, kth, surface);
        int top = -1;
        var withFrames = new List<DecisionReason>(reasons.Count);
        foreach (var reason in reasons)
        {
            int l = IndexOf(labels, reason.Label!);
            float threshold = reason.Threshold!.Value;
            var over = new List<long>();
            int best = -1;
            for (int f = 0; f < frames.Count; f++)
            {
                if (frames[f][l] < threshold) continue;
                if (model.TimestampsMs is { } t) over.Add(t[f]);
                if (best < 0 || frames[f][l] > frames[best][l]) best = f;
            }
            if (top < 0) top = best;
            withFrames.Add(model.TimestampsMs is null ? reason : reason with
            {
                FrameTimestampsMs = over,
                FramesSampled = frames.Count,
                Message = $"{over.Count} of {frames.Count} frames at or over {threshold:0.##}",
            });
        }
        if (top < 0)
        {
            // No reason: the frame with the highest score of any class but "neutral" stands for the upload.
            float bestScore = -1;
            for (int f = 0; f < frames.Count; f++)
                for (int l = 0; l < labels.Count; l++)
                    if (labels[l] != "neutral" && frames[f][l] > bestScore) (bestScore, top) = (frames[f][l], f);
        }
        return new Verdict(action, withFrames) { Scores = max, TopFrame = Math.Max(0, top), ModelRan = true };
    }

    private static int IndexOf(IReadOnlyList<string> labels, string label)
    {
        for (int i = 0; i < labels.Count; i++)
            if (string.Equals(labels[i], label, StringComparison.Ordinal)) return i;
        throw new KeyNotFoundException(label);
    }
}
