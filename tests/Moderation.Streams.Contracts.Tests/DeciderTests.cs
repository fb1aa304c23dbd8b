using CsCheck;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Contracts.Tests;

/// <summary>The one decision function: its rules one by one, and properties over every combination of signals.</summary>
public sealed class DeciderTests
{
    private static readonly IReadOnlyList<string> Labels = Policy.KnownLabels; // drawing, hentai, neutral, porn, sexy

    /// <summary>Bank <c>r</c> is a review bank, <c>t</c> (and every other) a takedown bank.</summary>
    private static readonly Policy Banked = Policy.Default with
    {
        Banks = new Dictionary<string, PolicyBankRule> { ["r"] = Actions.Review },
        Text = new Dictionary<string, string> { ["scam"] = Actions.Takedown, ["spam"] = Actions.Review }, // drugs: no rule, a review
    };

    private static float[] Scores(float porn = 0, float sexy = 0, float hentai = 0) =>
        [.. Labels.Select(l => l switch { "porn" => porn, "sexy" => sexy, "hentai" => hentai, "neutral" => 1 - porn - sexy - hentai, _ => 0f })];

    private static ModelSignal Still(float porn = 0, float sexy = 0) => ModelSignal.Still("m", Labels, Scores(porn, sexy));

    private static ModelSignal Video(long[] times, float[] porn, int k = 1) =>
        ModelSignal.OfFrames("m", Labels, times, [.. porn.Select(p => (IReadOnlyList<float>)Scores(p))], k);

    private static BankSignal Match(string bank) => BankSignal.Matched(new BankHit(bank, "id-1", 4));

    [Fact]
    public void The_model_decides_by_the_policy_thresholds_and_names_itself()
    {
        var verdict = Decider.Decide(Policy.Default, new UploadSignals { Model = Still(porn: 0.95f) });
        Assert.Equal(Actions.Takedown, verdict.Action);
        var reason = Assert.Single(verdict.Reasons);
        Assert.Equal(("model", "m", "porn", 0.95f, 0.90f), (reason.Source, reason.Model, reason.Label, reason.Score, reason.Threshold));
        Assert.Null(reason.FrameTimestampsMs); // a still image names no frames
        Assert.True(verdict.ModelRan);
        Assert.Equal(0.95f, verdict.Scores!["porn"]);
        Assert.Equal(Actions.Allow, Decider.Decide(Policy.Default, new UploadSignals { Model = Still(porn: 0.1f) }).Action);
    }

    [Fact]
    public void Frame_scores_aggregate_to_the_maximum_and_reasons_list_the_frames_over_the_threshold()
    {
        long[] times = [0, 1000, 1400, 2000];
        float[] porn = [0.1f, 0.95f, 0.7f, 0.92f];

        var result = Decider.Decide(Policy.Default, new UploadSignals { Model = Video(times, porn) });
        Assert.Equal(Actions.Takedown, result.Action);
        Assert.Equal(0.95f, result.Scores!["porn"]);
        var reason = Assert.Single(result.Reasons);
        Assert.Equal(("porn", 0.95f, 4), (reason.Label, reason.Score, reason.FramesSampled));
        Assert.Equal([1000L, 2000], reason.FrameTimestampsMs);
        Assert.Equal("2 of 4 frames at or over 0.9", reason.Message);
        Assert.Equal(1, result.TopFrame);

        // Three frames over a threshold required: only the review band (0.60) has three.
        var strict = Decider.Decide(Policy.Default, new UploadSignals { Model = Video(times, porn, k: 3) });
        Assert.Equal(Actions.Review, strict.Action);
        Assert.Equal([1000L, 1400, 2000], Assert.Single(strict.Reasons).FrameTimestampsMs);
        Assert.Equal(0.7f, Assert.Single(strict.Reasons).Score); // the third-highest frame's score is what met the threshold
    }

    [Fact]
    public void Without_a_reason_the_frame_with_the_highest_non_neutral_score_stands_for_the_video()
    {
        var verdict = Decider.Decide(Policy.Default, new UploadSignals { Model = Video([0, 500, 900], [0.1f, 0.3f, 0.2f]) });
        Assert.Equal((Actions.Allow, 1), (verdict.Action, verdict.TopFrame));
    }

    [Fact]
    public void A_surface_override_applies_to_a_video_as_to_an_image()
    {
        var policy = Policy.Default with
        {
            Surfaces = new Dictionary<string, PolicyOverride> { ["kids"] = new() { Takedown = new Dictionary<string, float> { ["porn"] = 0.5f } } },
        };
        var video = Video([0, 1000], [0.2f, 0.7f]);

        Assert.Equal(Actions.Review, Decider.Decide(policy, new UploadSignals { Model = video }).Action);
        var kids = Decider.Decide(policy, new UploadSignals { Model = video, Surface = "kids" });
        Assert.Equal(Actions.Takedown, kids.Action);
        Assert.Equal([1000L], Assert.Single(kids.Reasons).FrameTimestampsMs);
        Assert.Equal(policy.ApplyThresholds("m", kids.Scores!, "kids").Action, kids.Action);
        Assert.Equal(Actions.Takedown, Decider.Decide(policy, new UploadSignals { Model = Still(porn: 0.7f), Surface = "kids" }).Action);
    }

    [Fact]
    public void A_takedown_bank_settles_the_upload_without_the_model()
    {
        var signals = new UploadSignals { Banks = Match("t") };
        var verdict = Decider.Settled(Banked, signals);
        Assert.NotNull(verdict);
        Assert.Equal(Actions.Takedown, verdict.Action);
        var reason = Assert.Single(verdict.Reasons);
        Assert.Equal(("bank", "t", "id-1", 4), (reason.Source, reason.Bank, reason.MatchId, reason.Distance));
        Assert.False(verdict.ModelRan);
        Assert.Equal("t", verdict.BankTakedown!.Bank);
        // Whatever the model would say.
        Assert.Equal(Actions.Takedown, Decider.Decide(Banked, signals with { Model = Still() }).Action);
        // A takedown-bank match in a video screened only in part is still a takedown, and says what was not covered.
        var partial = Decider.Settled(Banked, signals with { NotCovered = "frames past 120" })!;
        Assert.Equal([null, PartialScreening.Code], partial.Reasons.Select(r => r.Code));
        Assert.Equal(Actions.Takedown, partial.Action);
    }

    [Fact]
    public void Nothing_else_settles_an_upload_before_the_model()
    {
        Assert.Null(Decider.Settled(Banked, new UploadSignals()));
        Assert.Null(Decider.Settled(Banked, new UploadSignals { Banks = Match("r") }));
        Assert.Null(Decider.Settled(Banked, new UploadSignals { Banks = BankSignal.Unavailable }));
        Assert.Null(Decider.Settled(Banked, new UploadSignals { Banks = BankSignal.NoMatch }));
    }

    [Fact]
    public void A_review_bank_makes_it_at_least_a_review_and_the_model_may_still_take_it_down()
    {
        var allow = Decider.Decide(Banked, new UploadSignals { Banks = Match("r"), Model = Still(porn: 0.1f) });
        Assert.Equal(Actions.Review, allow.Action);
        Assert.Equal("bank", allow.Reasons[0].Source);
        var takedown = Decider.Decide(Banked, new UploadSignals { Banks = Match("r"), Model = Still(porn: 0.95f) });
        Assert.Equal(Actions.Takedown, takedown.Action);
        Assert.Equal(["bank", "model"], takedown.Reasons.Select(r => r.Source));
    }

    [Fact]
    public void Unavailable_banks_turn_a_model_allow_into_a_review_unless_the_worker_trusts_the_model_alone()
    {
        var closed = Decider.Decide(Policy.Default, new UploadSignals { Banks = BankSignal.Unavailable, Model = Still() });
        Assert.Equal(Actions.Review, closed.Action);
        Assert.Equal(("fail-closed", Decider.BanksUnavailableCode), (closed.Reasons[^1].Source, closed.Reasons[^1].Code));
        var open = Decider.Decide(Policy.Default, new UploadSignals { Banks = BankSignal.Unavailable, BanksFailClosed = false, Model = Still() });
        Assert.Equal(Actions.Allow, open.Action);
        // A model review or takedown stands as it is, without the extra reason.
        var review = Decider.Decide(Policy.Default, new UploadSignals { Banks = BankSignal.Unavailable, Model = Still(sexy: 0.85f) });
        Assert.Equal(["model"], review.Reasons.Select(r => r.Source));
    }

    [Fact]
    public void An_upload_the_model_could_not_score_goes_to_review_or_the_dlq_as_the_policy_says()
    {
        var review = Decider.Decide(Banked, new UploadSignals { ModelFailure = "batch failed" });
        Assert.Equal(Actions.Review, review.Action);
        Assert.Equal(("fail-closed", ErrorCodes.Internal, "batch failed"), (review.Reasons[0].Source, review.Reasons[0].Code, review.Reasons[0].Message));
        Assert.False(review.IsDeadLetter);
        Assert.True(review.ModelRan);

        var dlq = Decider.Decide(Banked with { Unscreenable = Policy.DeadLetter }, new UploadSignals { ModelFailure = "batch failed" });
        Assert.True(dlq.IsDeadLetter);
        // A review bank's match is kept beside the failure.
        var matched = Decider.Decide(Banked, new UploadSignals { ModelFailure = "batch failed", Banks = Match("r") });
        Assert.Equal(["bank", "fail-closed"], matched.Reasons.Select(r => r.Source));
    }

    [Fact]
    public void An_upload_with_no_model_scores_and_no_takedown_bank_is_a_review()
    {
        var verdict = Decider.Decide(Policy.Default, new UploadSignals());
        Assert.Equal(Actions.Review, verdict.Action);
        Assert.Equal(Decider.NotScreenedCode, Assert.Single(verdict.Reasons).Code);
        Assert.False(verdict.ModelRan);
    }

    [Fact]
    public void Media_screened_in_part_is_never_allowed()
    {
        var verdict = Decider.Decide(Policy.Default, new UploadSignals { Model = Video([0], [0.1f]), NotCovered = "the last 40 s" });
        Assert.Equal(Actions.Review, verdict.Action);
        Assert.Equal(("fail-closed", PartialScreening.Code, "the last 40 s"), (verdict.Reasons[^1].Source, verdict.Reasons[^1].Code, verdict.Reasons[^1].Message));
    }

    private static TextHit Hit(string category, string field = TextHit.CaptionField) => new(field, "term", "scams", "t-7", category, 3, 9);

    [Fact]
    public void A_caption_match_raises_an_allowed_picture_to_its_category_rule_and_never_lowers_it()
    {
        var signals = new UploadSignals { Model = Still(porn: 0.1f), HasText = true, TextBanks = BankStatus.Checked, TextHits = [Hit("spam")] };
        var review = Decider.Decide(Banked, signals);
        Assert.Equal(Actions.Review, review.Action);
        var reason = Assert.Single(review.Reasons);
        Assert.Equal(("text", "caption", "term", "scams", "t-7", "spam", 3, 9), (reason.Source, reason.Field, reason.Kind, reason.Bank, reason.Id, reason.Category, reason.Start, reason.End));

        Assert.Equal(Actions.Takedown, Decider.Decide(Banked, signals with { TextHits = [Hit("scam")] }).Action);
        Assert.Equal(Actions.Review, Decider.Decide(Banked, signals with { TextHits = [Hit("drugs")] }).Action); // no rule: review
        // A takedown by the model stays one; the caption's reason is added beside it.
        var takedown = Decider.Decide(Banked, signals with { Model = Still(porn: 0.95f) });
        Assert.Equal((Actions.Takedown, 2), (takedown.Action, takedown.Reasons.Count));
    }

    [Fact]
    public void Text_in_a_takedown_category_settles_the_upload_and_a_text_match_is_never_cached()
    {
        var signals = new UploadSignals { HasText = true, TextBanks = BankStatus.Checked, TextHits = [Hit("scam")] };
        Assert.Equal(Actions.Takedown, Decider.Settled(Banked, signals)!.Action);
        Assert.Null(Decider.Settled(Banked, signals with { TextHits = [Hit("spam")] }));
        var withModel = signals with { Model = Still(), TextHits = [Hit("spam")] };
        Assert.False(Decider.MayStore(withModel, Decider.Decide(Banked, withModel)));
        // A cached decision on the picture, reused with a new caption: the caption is decided afresh on top of it.
        var reused = Decider.Decide(Banked, withModel with { Model = null, Cached = Cached(Actions.Allow) });
        Assert.Equal((Actions.Review, true), (reused.Action, reused.FromCache));
    }

    [Fact]
    public void A_text_item_is_decided_by_its_text_alone_and_is_a_review_when_nothing_could_screen_it()
    {
        var item = new UploadSignals { TextOnly = true, HasText = true, TextBanks = BankStatus.Checked };
        var allow = Decider.Decide(Banked, item);
        Assert.Equal((Actions.Allow, false), (allow.Action, allow.ModelRan));
        Assert.Equal(Actions.Takedown, Decider.Decide(Banked, item with { TextHits = [Hit("scam", TextHit.TextField)] }).Action);

        var unconfigured = Decider.Decide(Banked, item with { TextBanks = BankStatus.NotConfigured });
        Assert.Equal((Actions.Review, Decider.NotScreenedCode), (unconfigured.Action, Assert.Single(unconfigured.Reasons).Code));
        var unavailable = Decider.Decide(Banked, item with { TextBanks = BankStatus.Unavailable });
        Assert.Equal((Actions.Review, Decider.TextBanksUnavailableCode), (unavailable.Action, Assert.Single(unavailable.Reasons).Code));
        Assert.Equal(Actions.Allow, Decider.Decide(Banked, item with { TextBanks = BankStatus.Unavailable, BanksFailClosed = false }).Action);
    }

    [Fact]
    public void A_caption_the_text_banks_could_not_screen_keeps_an_allowed_picture_from_being_allowed()
    {
        var signals = new UploadSignals { Model = Still(), HasText = true, TextBanks = BankStatus.Unavailable };
        Assert.Equal(Actions.Review, Decider.Decide(Banked, signals).Action);
        // No caption: nothing went unscreened. No text banks configured: captions are not screened on this worker.
        Assert.Equal(Actions.Allow, Decider.Decide(Banked, signals with { HasText = false }).Action);
        Assert.Equal(Actions.Allow, Decider.Decide(Banked, signals with { TextBanks = BankStatus.NotConfigured }).Action);
    }

    private static DecisionEvent Cached(string action, params DecisionReason[] reasons) => new()
    {
        ContentId = "old", Action = action, Reasons = reasons, PolicyVersion = "p", ModelVersion = "m@1", DecidedAt = DateTimeOffset.UnixEpoch,
        Scores = new Dictionary<string, float> { ["porn"] = 0.2f },
    };

    [Fact]
    public void A_cached_decision_stands_unless_a_bank_matched_since()
    {
        var hit = Cached(Actions.Allow);
        var same = Decider.Decide(Banked, new UploadSignals { Cached = hit, Banks = BankSignal.NoMatch });
        Assert.Equal((Actions.Allow, true, true), (same.Action, same.FromCache, same.ModelRan));
        Assert.Same(hit.Scores, same.Scores);

        var review = Decider.Decide(Banked, new UploadSignals { Cached = hit, Banks = Match("r") });
        Assert.Equal((Actions.Review, true), (review.Action, review.FromCache));
        Assert.Equal("bank", review.Reasons[0].Source);

        var partial = new DecisionReason { Source = "fail-closed", Code = PartialScreening.Code, Message = "tail cut" };
        var takedown = Decider.Decide(Banked, new UploadSignals { Cached = Cached(Actions.Review, partial), Banks = Match("t") });
        Assert.Equal((Actions.Takedown, false), (takedown.Action, takedown.FromCache));
        Assert.Equal(["bank", "fail-closed"], takedown.Reasons.Select(r => r.Source));
        Assert.Equal("tail cut", takedown.Reasons[1].Message);

        // A cached takedown stays one, whatever matches since.
        Assert.Equal(Actions.Takedown, Decider.Decide(Banked, new UploadSignals { Cached = Cached(Actions.Takedown), Banks = Match("r") }).Action);
    }

    [Fact]
    public void A_cached_allow_is_not_reused_while_the_banks_cannot_be_trusted()
    {
        var unavailable = new UploadSignals { Banks = BankSignal.Unavailable };
        Assert.False(Decider.MayReuse(Cached(Actions.Allow), unavailable));
        Assert.True(Decider.MayReuse(Cached(Actions.Review), unavailable));
        Assert.True(Decider.MayReuse(Cached(Actions.Takedown), unavailable));
        Assert.True(Decider.MayReuse(Cached(Actions.Allow), new UploadSignals { Banks = BankSignal.NoMatch }));
        Assert.True(Decider.MayReuse(Cached(Actions.Allow), new UploadSignals()));
    }

    [Fact]
    public void Only_a_model_decision_made_with_trusted_banks_and_no_match_is_cached()
    {
        var fresh = new UploadSignals { Banks = BankSignal.NoMatch, Model = Still() };
        Assert.True(Decider.MayStore(fresh, Decider.Decide(Policy.Default, fresh)));
        Assert.True(Decider.MayStore(fresh with { Banks = BankSignal.NotConfigured }, Decider.Decide(Policy.Default, fresh)));
        foreach (var signals in new[]
        {
            fresh with { Banks = BankSignal.Unavailable },
            fresh with { Banks = Match("r") },
            fresh with { Model = null, ModelFailure = "x" },
            fresh with { Model = null },
            fresh with { Cached = Cached(Actions.Allow) },
        })
            Assert.False(Decider.MayStore(signals, Decider.Decide(Banked, signals)));
    }

    // ---- properties over every combination of signals ----

    private static readonly Gen<BankSignal> AnyBanks = Gen.OneOf(
        Gen.Const(BankSignal.NotConfigured), Gen.Const(BankSignal.Unavailable), Gen.Const(BankSignal.NoMatch),
        Gen.OneOf("r", "t", "other").Select(Match));

    private static readonly Gen<float> AnyScore = Gen.OneOf(Gen.Float[0f, 1f], Gen.OneOf(0f, 0.6f, 0.8f, 0.9f, 1f));

    private static readonly Gen<ModelSignal> AnyModel =
        Gen.Select(AnyScore.Array[Labels.Count].Array[1, 4], Gen.Bool, Gen.Int[1, 3]).Select((frames, still, k) => still
            ? ModelSignal.Still("m", Labels, frames[0])
            : ModelSignal.OfFrames("m", Labels, [.. frames.Select((_, i) => i * 1000L)], [.. frames.Select(f => (IReadOnlyList<float>)f)], k));

    private static readonly Gen<TextHit[]> AnyTextHits = Gen.OneOf("scam", "drugs", "spam").Select(Gen.OneOf(TextHit.CaptionField, TextHit.TextField))
        .Select((category, field) => new TextHit(field, "term", "b", "t-1", category, 0, 4)).Array[0, 2];

    private static readonly Gen<BankStatus> AnyTextBanks = Gen.OneOf(BankStatus.NotConfigured, BankStatus.Checked, BankStatus.Unavailable);

    private static readonly Gen<UploadSignals> AnyMediaSignals =
        Gen.Select(AnyBanks, Gen.Bool, AnyModel.Null(), Gen.OneOf<string?>(null, null, "batch failed"), Gen.OneOf<string?>(null, null, "tail cut"),
            Gen.OneOf<string?>(null, "story"), Gen.Select(AnyTextHits, AnyTextBanks, Gen.Bool))
        .Select((banks, failClosed, model, failure, notCovered, surface, text) => new UploadSignals
        {
            Banks = banks, BanksFailClosed = failClosed, Model = model, ModelFailure = failure, NotCovered = notCovered, Surface = surface,
            // Text hits only come from banks that answered, on an upload with text.
            TextHits = text.Item2 == BankStatus.Checked ? text.Item1 : [], TextBanks = text.Item2, HasText = text.Item3 || (text.Item2 == BankStatus.Checked && text.Item1.Length > 0),
        });

    private static readonly Gen<UploadSignals> AnyTextItem =
        Gen.Select(AnyTextHits, AnyTextBanks, Gen.Bool).Select((hits, textBanks, failClosed) => new UploadSignals
        {
            TextOnly = true, HasText = true, BanksFailClosed = failClosed, TextBanks = textBanks, TextHits = textBanks == BankStatus.Checked ? hits : [],
        });

    private static readonly Gen<UploadSignals> AnySignals = Gen.Frequency((4, AnyMediaSignals), (1, AnyTextItem));

    private static readonly Gen<Policy> AnyPolicy = Gen.Select(Gen.OneOf(Actions.Review, Policy.DeadLetter), Gen.Bool).Select((unscreenable, strictStory) => Banked with
    {
        Unscreenable = unscreenable,
        Surfaces = strictStory
            ? new Dictionary<string, PolicyOverride> { ["story"] = new() { Takedown = new Dictionary<string, float> { ["sexy"] = 0.95f }, Review = new Dictionary<string, float> { ["sexy"] = 0.5f } } }
            : new Dictionary<string, PolicyOverride>(),
    });

    [Fact]
    public void No_failed_missing_or_distrusted_signal_ever_yields_allow_unless_the_policy_says_so()
    {
        Gen.Select(AnyPolicy, AnySignals).Sample((policy, s) =>
        {
            var verdict = Decider.Decide(policy, s);
            bool distrusted = s.ModelFailure is not null || (s.Model is null && !s.TextOnly) || s.NotCovered is not null || s.Banks.Match is not null
                || (s.Banks.IsUnavailable && s.BanksFailClosed) || s.TextHits.Count > 0
                || (s.HasText && s.TextBanks == BankStatus.Unavailable && s.BanksFailClosed) || (s.TextOnly && s.TextBanks == BankStatus.NotConfigured);
            if (verdict.IsDeadLetter) return s.ModelFailure is not null && policy.Unscreenable == Policy.DeadLetter;
            return !distrusted || verdict.Action != Actions.Allow;
        }, iter: 20_000);
    }

    [Fact]
    public void A_higher_score_never_lowers_the_action()
    {
        Gen.Select(AnyPolicy, AnySignals, Gen.Int[0, 3], Gen.Int[0, 4], Gen.Float[0f, 1f]).Sample((policy, s, frame, label, raise) =>
        {
            if (s.Model is not { } model) return true;
            int f = frame % model.Frames.Count;
            var raised = model.Frames.Select((row, i) => i != f ? row : (IReadOnlyList<float>)[.. row.Select((v, l) => l == label ? Math.Max(v, raise) : v)]).ToArray();
            var before = Decider.Decide(policy, s);
            var after = Decider.Decide(policy, s with { Model = model with { Frames = raised } });
            return before.IsDeadLetter == after.IsDeadLetter && (before.IsDeadLetter || Actions.Severity(after.Action) >= Actions.Severity(before.Action));
        }, iter: 20_000);
    }

    [Fact]
    public void The_most_severe_action_of_all_signals_wins()
    {
        Gen.Select(AnyPolicy, AnySignals).Sample((policy, s) =>
        {
            var verdict = Decider.Decide(policy, s);
            if (verdict.IsDeadLetter) return true;
            // What each signal asks for on its own, computed here without the decider.
            var asks = new List<string>();
            if (s.Banks.Match is { } m) asks.Add(policy.Banks.TryGetValue(m.Bank, out var rule) ? rule.Action : Actions.Takedown);
            bool bankTakedown = asks.Contains(Actions.Takedown);
            if (s.TextOnly) asks.Add(s.TextBanks == BankStatus.NotConfigured ? Actions.Review : Actions.Allow);
            else if (s.ModelFailure is not null || s.Model is null) asks.Add(Actions.Review);
            else if (!bankTakedown) asks.Add(ModelAsks(policy, s.Model, s.Surface));
            if (s.NotCovered is not null) asks.Add(Actions.Review);
            asks.AddRange(s.TextHits.Select(h => policy.Text.TryGetValue(h.Category, out var r) ? r : Actions.Review));
            string most = asks.MaxBy(Actions.Severity) ?? Actions.Allow;
            if (most == Actions.Allow && s.BanksFailClosed && (s.Banks.IsUnavailable || (s.HasText && s.TextBanks == BankStatus.Unavailable))) most = Actions.Review;
            return verdict.Action == most && (verdict.Action == Actions.Allow) == (verdict.Reasons.Count == 0)
                && (s.Banks.Match is null || verdict.Reasons.Any(r => r.Source == "bank"))
                && (s.NotCovered is null || verdict.Reasons.Any(r => r.Code == PartialScreening.Code))
                && verdict.Reasons.Count(r => r.Source == "text") == s.TextHits.Count;
        }, iter: 20_000);
    }

    /// <summary>The model's own action: each class's k-th highest frame score against the thresholds for the surface.</summary>
    private static string ModelAsks(Policy policy, ModelSignal model, string? surface)
    {
        int k = Math.Min(model.MinFramesOverThreshold, model.Frames.Count);
        var kth = Labels.Select((label, l) => (label, score: model.Frames.Select(f => f[l]).OrderDescending().ElementAt(k - 1)))
            .ToDictionary(x => x.label, x => x.score);
        var over = surface is not null && policy.Surfaces.TryGetValue(surface, out var o) ? o : null;
        float Threshold(IReadOnlyDictionary<string, float>? overrides, IReadOnlyDictionary<string, float> table, string label) =>
            overrides is not null && overrides.TryGetValue(label, out var t) ? t : table.TryGetValue(label, out var b) ? b : float.PositiveInfinity;
        if (Labels.Any(l => kth[l] >= Threshold(over?.Takedown, policy.Takedown, l))) return Actions.Takedown;
        if (Labels.Any(l => kth[l] >= Threshold(over?.Review, policy.Review, l))) return Actions.Review;
        return Actions.Allow;
    }

    [Fact]
    public void A_reused_cached_decision_is_never_lowered_and_a_later_match_raises_it_to_its_bank_rule()
    {
        Gen.Select(Gen.OneOf(Actions.Allow, Actions.Review, Actions.Takedown), AnyBanks).Sample((action, banks) =>
        {
            var signals = new UploadSignals { Cached = Cached(action), Banks = banks };
            if (!Decider.MayReuse(signals.Cached, signals)) return action == Actions.Allow && banks.IsUnavailable;
            var verdict = Decider.Decide(Banked, signals);
            int floor = Actions.Severity(action);
            if (banks.Match is { } m) floor = Math.Max(floor, Actions.Severity(Banked.BankAction(m.Bank)));
            return Actions.Severity(verdict.Action) == floor;
        }, iter: 2_000);
    }
}

/// <summary>The decider refuses signals that cannot be right, rather than deciding on them.</summary>
public sealed class DeciderInputTests
{
    private static readonly IReadOnlyList<string> Labels = Policy.KnownLabels;

    [Fact]
    public void Malformed_model_signals_and_missing_arguments_are_refused()
    {
        float[] five = [0, 0, 1, 0, 0];
        Assert.Throws<ArgumentException>(() => Decider.Decide(Policy.Default, new UploadSignals { Model = ModelSignal.OfFrames("m", Labels, [], []) }));
        Assert.Throws<ArgumentException>(() => Decider.Decide(Policy.Default, new UploadSignals { Model = ModelSignal.Still("m", Labels, [0.5f, 0.5f]) }));
        Assert.Throws<ArgumentException>(() => Decider.Decide(Policy.Default, new UploadSignals { Model = ModelSignal.OfFrames("m", Labels, [0, 1], [five]) }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Decider.Decide(Policy.Default, new UploadSignals { Model = ModelSignal.OfFrames("m", Labels, [0], [five], 0) }));
        Assert.Throws<ArgumentNullException>(() => Decider.Decide(null!, new UploadSignals()));
        Assert.Throws<ArgumentNullException>(() => Decider.Decide(Policy.Default, null!));
        Assert.Throws<ArgumentNullException>(() => Decider.Settled(Policy.Default, null!));
        Assert.Throws<ArgumentNullException>(() => Decider.MayReuse(null!, new UploadSignals()));
        Assert.Throws<ArgumentNullException>(() => Decider.MayStore(new UploadSignals(), null!));
        Assert.Throws<ArgumentNullException>(() => BankSignal.Matched(null!));
    }

    [Fact]
    public void A_dead_letter_verdict_says_the_model_was_asked_and_a_cached_decision_without_a_model_says_it_was_not()
    {
        var dlq = Decider.Decide(Policy.Default with { Unscreenable = Policy.DeadLetter }, new UploadSignals { ModelFailure = "x" });
        Assert.True(dlq.IsDeadLetter && dlq.ModelRan);
        var bankTakedown = new DecisionEvent { ContentId = "c", Action = Actions.Takedown, Reasons = [], PolicyVersion = "p", DecidedAt = DateTimeOffset.UnixEpoch };
        Assert.False(Decider.Decide(Policy.Default, new UploadSignals { Cached = bankTakedown }).ModelRan);
    }

    [Fact]
    public void A_settings_check_that_throws_becomes_one_validation_result_naming_the_setting()
    {
        Assert.Empty(SettingsValidation.Run(() => { }, "Media"));
        var result = Assert.Single(SettingsValidation.Run(() => throw new ArgumentOutOfRangeException("MaxBytes", "must be positive"), "Media"));
        Assert.StartsWith("Media: ", result.ErrorMessage);
        Assert.Contains("must be positive", result.ErrorMessage);
        Assert.Equal(["MaxBytes"], result.MemberNames);
        Assert.Throws<ArgumentNullException>(() => SettingsValidation.Run(null!, "x").ToList());
    }
}
