using System.Text;
using CsCheck;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Contracts.Tests;

/// <summary>A bank tried on a share of uploads (<c>"enabled": 0.1</c>): it acts on the uploads whose content id falls in
/// its share, the same ones every time, and on the rest its match is the would-be verdict (<see cref="Verdict.WouldBe"/>).</summary>
public sealed class BankTrialTests
{
    private static readonly IReadOnlyList<string> Labels = Policy.KnownLabels;

    private static Policy Parse(string json) => PolicyFile.Parse(Encoding.UTF8.GetBytes(json), "p.json");

    private static readonly Policy Trial = Parse("""
        {"version":"trial-1","takedown":{"porn":0.9},"review":{"porn":0.6},
         "banks":{"new-list":{"action":"takedown","enabled":0.5},"watch":{"action":"review","enabled":0},
                  "near":{"action":"takedown","max_distance":10,"enabled":0},"benign":{"action":"suppress","enabled":0},
                  "known-bad":"takedown"}}
        """);

    // Buckets worked out apart from the code (Python: int.from_bytes(sha256(id).digest()[:8], "big") / 2**64).
    private const string Low = "upload-8"; // 0.0652…
    private const string High = "c-1"; // 0.6522…

    private static ModelSignal Model(float porn) =>
        ModelSignal.Still("m", Labels, [.. Labels.Select(l => l == "porn" ? porn : l == "neutral" ? 1 - porn : 0f)]);

    private static UploadSignals Signals(string contentId, params BankHit[] hits) =>
        new() { ContentId = contentId, Banks = BankSignal.FromHits(hits, 90), Model = Model(0.1f) };

    [Fact]
    public void The_bucket_of_a_content_id_is_the_first_8_bytes_of_its_sha256_over_2_to_the_64()
    {
        Assert.Equal(0.652220683156478, PolicyBankRule.Bucket("c-1"), 12);
        Assert.Equal(0.7419437945331677, PolicyBankRule.Bucket("upload-42"), 12);
        Assert.Equal(0.8894159948913374, PolicyBankRule.Bucket(""), 12);
        Assert.True(PolicyBankRule.Bucket(Low) < 0.1, PolicyBankRule.Bucket(Low).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Throws<ArgumentNullException>(() => PolicyBankRule.Bucket(null!));
    }

    [Fact]
    public void A_share_acts_on_the_ids_below_it_all_at_1_none_at_0_and_raising_it_only_adds_uploads()
    {
        var ids = Enumerable.Range(0, 2000).Select(i => $"content-{i}").ToList();
        var half = new PolicyBankRule { Enabled = 0.5 };
        Assert.Equal(ids.Where(id => PolicyBankRule.Bucket(id) < 0.5), ids.Where(half.ActsOn));
        Assert.InRange(ids.Count(half.ActsOn), 900, 1100);
        Assert.All(ids, id => Assert.True(PolicyBankRule.Default.ActsOn(id)));
        Assert.All(ids, id => Assert.False(new PolicyBankRule { Enabled = 0 }.ActsOn(id)));
        Assert.True(new PolicyBankRule { Enabled = 0.66 }.ActsOn(High));
        Assert.False(new PolicyBankRule { Enabled = 0.65 }.ActsOn(High));

        Gen.Select(Gen.String, Gen.Double[0, 1], Gen.Double[0, 1]).Sample((id, a, b) =>
        {
            var (low, high) = a <= b ? (a, b) : (b, a);
            return !new PolicyBankRule { Enabled = low }.ActsOn(id) || new PolicyBankRule { Enabled = high }.ActsOn(id);
        }, iter: 2_000);
    }

    [Fact]
    public void The_ratio_parses_writes_back_and_is_described_only_when_not_1()
    {
        var rule = Trial.BankRule("new-list");
        Assert.Equal(new PolicyBankRule { Action = Actions.Takedown, Enabled = 0.5 }, rule);
        Assert.Equal(1.0, Trial.BankRule("known-bad").Enabled);
        Assert.Equal(Trial.Banks.OrderBy(b => b.Key).ToList(), Parse(PolicyFile.ToJson(Trial)).Banks.OrderBy(b => b.Key).ToList());
        var json = PolicyFile.ToJson(Trial);
        Assert.Contains("\"enabled\": 0.5", json);
        Assert.Contains("\"known-bad\": \"takedown\"", json);
        // Written out in full, 1 is the default: the string form again.
        Assert.Contains("\"x\": \"review\"", PolicyFile.ToJson(Parse("""{"version":"v","banks":{"x":{"action":"review","enabled":1}}}""")));
    }

    [Theory]
    [InlineData("1.5", "banks.x.enabled: enabled 1.5 must be a share in 0..1")]
    [InlineData("-0.1", "banks.x.enabled: enabled -0.1 must be a share in 0..1")]
    [InlineData("\"half\"", "'enabled' of a bank rule has the wrong type")]
    [InlineData("true", "'enabled' of a bank rule has the wrong type")]
    public void A_ratio_that_is_not_a_number_in_0_to_1_is_refused_naming_the_field(string value, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => Parse("""{"version":"v","banks":{"x":{"action":"review","enabled":""" + value + "}}}"));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_action_beside_a_ratio_names_the_action_field()
    {
        var e = Assert.Throws<InvalidDataException>(() => Parse("""{"version":"v","banks":{"x":{"action":"ban","enabled":0.2}}}"""));
        Assert.Contains("banks.x.action: 'ban' must be", e.Message, StringComparison.Ordinal);
        Assert.Equal(0.0, Parse("""{"version":"v","banks":{"x":{"action":"review","enabled":0}}}""").BankRule("x").Enabled);
    }

    [Fact]
    public void Inside_its_share_a_takedown_bank_takes_down_and_nothing_is_tried()
    {
        var signals = Signals(Low, new BankHit("new-list", "h-1", 4));
        var verdict = Decider.Decide(Trial, signals);
        Assert.Equal(Actions.Takedown, verdict.Action);
        Assert.Equal("new-list", verdict.BankTakedown?.Bank);
        Assert.Null(verdict.WouldBe);
        Assert.Empty(Decider.Untried(Trial, signals.Banks, Low));
        Assert.NotNull(Decider.Settled(Trial, signals with { Model = null }));
    }

    [Fact]
    public void Outside_its_share_the_model_decides_and_the_would_be_takedown_names_the_bank_entry_and_distance()
    {
        var signals = Signals(High, new BankHit("new-list", "h-1", 4));
        var verdict = Decider.Decide(Trial, signals);
        Assert.Equal(Actions.Allow, verdict.Action);
        Assert.DoesNotContain(verdict.Reasons, r => r.Source == "bank");
        Assert.True(verdict.ModelRan);
        Assert.Null(Decider.Settled(Trial, signals with { Model = null }));
        Assert.Equal(["new-list"], Decider.Untried(Trial, signals.Banks, High).Select(h => h.Bank));

        var wouldBe = verdict.WouldBe!;
        Assert.Equal(Actions.Takedown, wouldBe.Action);
        var reason = Assert.Single(wouldBe.Reasons);
        Assert.Equal(("bank", "new-list", "h-1", 4), (reason.Source, reason.Bank!, reason.MatchId!, reason.Distance!.Value));
        Assert.Null(wouldBe.WouldBe);
    }

    [Fact]
    public void At_0_a_bank_only_observes_and_its_limits_still_apply()
    {
        var review = Decider.Decide(Trial, Signals(Low, new BankHit("watch", "w-1", 12)));
        Assert.Equal(Actions.Allow, review.Action);
        Assert.Equal(Actions.Review, review.WouldBe?.Action);
        // Beyond the bank's own max_distance it would not have matched either: nothing to record.
        var far = Decider.Decide(Trial, Signals(Low, new BankHit("near", "n-1", 11)));
        Assert.Null(far.WouldBe);
        Assert.Empty(Decider.Untried(Trial, BankSignal.FromHits([new BankHit("near", "n-1", 11)], 90), Low));
        Assert.Equal(Actions.Takedown, Decider.Decide(Trial, Signals(Low, new BankHit("near", "n-1", 10))).WouldBe?.Action);
    }

    [Fact]
    public void Every_match_left_out_is_listed_closest_first()
    {
        var banks = BankSignal.FromHits([new BankHit("watch", "w-1", 12), new BankHit("near", "n-1", 3), new BankHit("known-bad", "k-1", 5)], 90);
        Assert.Equal(["near", "watch"], Decider.Untried(Trial, banks, Low).Select(h => h.Bank));
        var verdict = Decider.Decide(Trial, new UploadSignals { ContentId = Low, Banks = banks, Model = Model(0.1f) });
        Assert.Equal(("known-bad", Actions.Takedown), (verdict.BankTakedown?.Bank, verdict.WouldBe?.Action));
        Assert.Equal("near", verdict.WouldBe!.BankTakedown?.Bank); // had every bank acted, the closest takedown match decides
    }

    [Fact]
    public void An_observed_suppress_bank_cancels_nothing_and_its_would_be_verdict_is_the_suppressed_one()
    {
        var signals = Signals(Low, new BankHit("benign", "meme-1", 1), new BankHit("known-bad", "h-9", 3));
        var verdict = Decider.Decide(Trial, signals);
        Assert.Equal(Actions.Takedown, verdict.Action);
        Assert.Equal("known-bad", verdict.BankTakedown?.Bank);
        Assert.Equal(Actions.Allow, verdict.WouldBe?.Action);
        Assert.Contains(verdict.WouldBe!.Reasons, r => r.Code == PolicyBankRule.Suppress && r.MatchId == "meme-1");
        Assert.Equal((null, null), Decider.DecisiveBank(Trial, BankSignal.FromHits([new BankHit("benign", "meme-1", 1)]), Low));
    }

    [Fact]
    public void The_trial_policy_acts_on_every_bank_under_its_own_version_and_keeps_the_rest()
    {
        var trial = Trial.ForBankTrial();
        Assert.Equal("trial-1+trial", trial.Version);
        Assert.All(trial.Banks.Values, r => Assert.Equal(1.0, r.Enabled));
        Assert.Equal(Trial.Banks.Keys.Order(), trial.Banks.Keys.Order());
        Assert.Equal(new PolicyBankRule { Action = Actions.Takedown, MaxDistance = 10 }, trial.BankRule("near"));
        Assert.Equal(Trial.Takedown, trial.Takedown);
        Assert.Equal(0.5, Trial.BankRule("new-list").Enabled); // the live policy is unchanged
    }

    [Fact]
    public void Without_a_ratio_no_upload_has_a_would_be_verdict()
    {
        Gen.Select(Gen.String, Gen.Int[0, 40]).Sample((id, distance) =>
            Decider.Decide(Trial, Signals(id, new BankHit("known-bad", "k", distance))).WouldBe is null
            && Decider.Decide(Policy.Default, Signals(id, new BankHit("any", "k", distance))).WouldBe is null, iter: 500);
    }

    [Fact]
    public void Null_arguments_are_refused()
    {
        Assert.Throws<ArgumentNullException>(() => Decider.Untried(null!, BankSignal.NoMatch, ""));
        Assert.Throws<ArgumentNullException>(() => Decider.Untried(Trial, null!, ""));
        Assert.Throws<ArgumentNullException>(() => Decider.Untried(Trial, BankSignal.NoMatch, null!));
        Assert.Throws<ArgumentNullException>(() => Decider.DecisiveBank(Trial, BankSignal.NoMatch, null!));
    }
}
