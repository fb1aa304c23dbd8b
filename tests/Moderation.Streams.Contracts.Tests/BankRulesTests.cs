using System.Text;
using CsCheck;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Contracts.Tests;

/// <summary>Per-bank rules (DESIGN.md, "Bank controls"): suppress banks cancel every bank match, a bank's own distance
/// and quality narrow what it accepts, and the most severe remaining rule decides.</summary>
public sealed class BankRulesTests
{
    private static readonly IReadOnlyList<string> Labels = Policy.KnownLabels;

    private static Policy Parse(string json) => PolicyFile.Parse(Encoding.UTF8.GetBytes(json), "p.json");

    private static readonly Policy Rules = Parse("""
        {"version":"banks-1","takedown":{"porn":0.9},"review":{"porn":0.6},
         "banks":{"known-bad":"takedown","partner-x":{"action":"review","max_distance":20},"benign":"suppress",
                  "strict":{"action":"takedown","max_distance":8,"min_quality":80},"*":"review"}}
        """);

    private static ModelSignal Model(float porn) =>
        ModelSignal.Still("m", Labels, [.. Labels.Select(l => l == "porn" ? porn : l == "neutral" ? 1 - porn : 0f)]);

    private static BankHit Hit(string bank, int distance, string id = "h-1") => new(bank, id, distance);

    private static Verdict Decide(IEnumerable<BankHit> hits, int? quality = 90, float porn = 0.1f) =>
        Decider.Decide(Rules, new UploadSignals { Banks = BankSignal.FromHits(hits, quality), Model = Model(porn) });

    [Fact]
    public void Rules_parse_from_both_forms_and_write_back_the_same()
    {
        Assert.Equal(Actions.Takedown, Rules.BankAction("known-bad"));
        Assert.Equal(new PolicyBankRule { Action = Actions.Review, MaxDistance = 20 }, Rules.BankRule("partner-x"));
        Assert.Equal(PolicyBankRule.Suppress, Rules.BankAction("benign"));
        Assert.Equal(Actions.Review, Rules.BankAction("anything-else")); // the * rule
        Assert.Equal(Actions.Takedown, Policy.Default.BankAction("anything")); // no rule at all
        Assert.Equal(Rules.Banks.OrderBy(b => b.Key).ToList(), Parse(PolicyFile.ToJson(Rules)).Banks.OrderBy(b => b.Key).ToList());
        Assert.Contains("\"known-bad\": \"takedown\"", PolicyFile.ToJson(Rules));
    }

    [Fact]
    public void A_suppress_match_cancels_every_bank_match_and_the_model_decides()
    {
        var verdict = Decide([Hit("known-bad", 2), Hit("benign", 5, "meme-1")]);
        Assert.Equal(Actions.Allow, verdict.Action);
        var reason = Assert.Single(verdict.Reasons);
        Assert.Equal(("bank", "benign", "meme-1", 5, PolicyBankRule.Suppress), (reason.Source, reason.Bank!, reason.MatchId!, reason.Distance!.Value, reason.Code!));
        Assert.True(verdict.ModelRan);
        // The model still takes it down when the picture is porn.
        var porn = Decide([Hit("known-bad", 2), Hit("benign", 5)], porn: 0.97f);
        Assert.Equal(Actions.Takedown, porn.Action);
        Assert.Equal(["model", "bank"], porn.Reasons.Select(r => r.Source));
        Assert.Null(Decider.Settled(Rules, new UploadSignals { Banks = BankSignal.FromHits([Hit("known-bad", 2), Hit("benign", 30)], 90) }));
    }

    [Fact]
    public void A_banks_own_distance_and_quality_narrow_what_it_accepts()
    {
        Assert.Equal(Actions.Review, Decide([Hit("partner-x", 20)]).Action);
        Assert.Equal(Actions.Allow, Decide([Hit("partner-x", 21)]).Action);
        Assert.Equal(Actions.Takedown, Decide([Hit("strict", 8)], quality: 80).Action);
        Assert.Equal(Actions.Allow, Decide([Hit("strict", 9)], quality: 100).Action);
        Assert.Equal(Actions.Allow, Decide([Hit("strict", 3)], quality: 79).Action);
        Assert.Equal(Actions.Takedown, Decide([Hit("strict", 3)], quality: null).Action); // quality unknown: not refused
        // A suppress bank's match outside its own rule does not suppress.
        var rules = Rules with { Banks = new Dictionary<string, PolicyBankRule>(Rules.Banks) { ["benign"] = new() { Action = PolicyBankRule.Suppress, MaxDistance = 4 } } };
        var verdict = Decider.Decide(rules, new UploadSignals { Banks = BankSignal.FromHits([Hit("known-bad", 6), Hit("benign", 5)], 90) });
        Assert.Equal((Actions.Takedown, "known-bad"), (verdict.Action, verdict.Reasons[0].Bank!));
    }

    [Fact]
    public void The_most_severe_rule_decides_whatever_the_distances()
    {
        var verdict = Decide([Hit("partner-x", 1), Hit("known-bad", 15, "h-9")]);
        Assert.Equal(Actions.Takedown, verdict.Action);
        Assert.Equal(("known-bad", "h-9"), (verdict.Reasons[0].Bank!, verdict.Reasons[0].MatchId!));
        Assert.Equal(Actions.Review, Decide([Hit("partner-x", 1), Hit("other", 3)]).Action);
    }

    [Fact]
    public void Hits_keep_the_closest_per_bank_closest_first()
    {
        var signal = BankSignal.FromHits([Hit("b", 9, "b-9"), Hit("a", 7), Hit("b", 3, "b-3"), Hit("c", 3)], 77);
        Assert.Equal([("b", 3), ("c", 3), ("a", 7)], signal.Hits.Select(h => (h.Bank, h.Distance)));
        Assert.Equal("b-3", signal.Match!.MatchId);
        Assert.Equal(77, signal.Quality);
        Assert.Same(BankSignal.NoMatch, BankSignal.FromHits([]));
        Assert.Equal((BankStatus.Checked, 0, 60), (BankSignal.FromHits([], 60).Status, BankSignal.FromHits([], 60).Hits.Count, BankSignal.FromHits([], 60).Quality!.Value));
    }

    private static readonly Gen<BankHit[]> AnyHits = Gen.Select(Gen.OneOf("known-bad", "partner-x", "benign", "strict", "other"), Gen.Int[0, 31])
        .Select((bank, distance) => Hit(bank, distance)).Array[0, 4];

    [Fact]
    public void Any_accepted_suppress_match_means_no_bank_reason_but_its_own_and_otherwise_the_decision_is_at_least_the_most_severe_accepted_rule()
    {
        Gen.Select(AnyHits, Gen.OneOf<int?>(null, 40, 79, 80, 100), Gen.Float[0f, 1f]).Sample((hits, quality, porn) =>
        {
            var verdict = Decide(hits, quality, porn);
            var accepted = hits.Where(h => Rules.BankRule(h.Bank).Accepts(h.Distance, quality)).ToList();
            var bankReasons = verdict.Reasons.Where(r => r.Source == "bank").ToList();
            if (accepted.Any(h => Rules.BankAction(h.Bank) == PolicyBankRule.Suppress))
                return bankReasons.Count == 1 && bankReasons[0].Code == PolicyBankRule.Suppress;
            if (accepted.Count == 0) return bankReasons.Count == 0;
            var most = accepted.Select(h => Rules.BankAction(h.Bank)).MaxBy(Actions.Severity)!;
            return bankReasons.Count == 1 && bankReasons[0].Code is null && Actions.Severity(verdict.Action) >= Actions.Severity(most)
                && Rules.BankAction(bankReasons[0].Bank!) == most;
        }, iter: 5_000);
    }
}

/// <summary>Flood quarantine in the policy and the decision: a quarantined takedown entry is a review, nothing else moves.</summary>
public sealed class BankFloodRulesTests
{
    private static Policy Parse(string json) => PolicyFile.Parse(Encoding.UTF8.GetBytes(json), "p.json");

    [Fact]
    public void The_section_parses_and_is_validated_naming_the_field()
    {
        var floods = Parse("""{"version":"v","bank_floods":{"window":"10m","max_uploads":500}}""").BankFloods!;
        Assert.Equal((TimeSpan.FromMinutes(10), 500), (floods.Span, floods.MaxUploads));
        Assert.Contains("line 2: bank_floods.max_uploads: max_uploads 0 must be in 1..10000",
            Assert.Throws<InvalidDataException>(() => Parse("{\"version\":\"v\",\n\"bank_floods\":{\"window\":\"10m\",\"max_uploads\":0}}")).Message);
        Assert.Contains("bank_floods.window: '10x' is not a window",
            Assert.Throws<InvalidDataException>(() => Parse("""{"version":"v","bank_floods":{"window":"10x","max_uploads":5}}""")).Message);
        Assert.Null(Policy.Default.BankFloods);
    }

    [Theory]
    [InlineData("known-bad", false, Actions.Takedown)]
    [InlineData("known-bad", true, Actions.Review)]
    [InlineData("borderline", true, Actions.Review)]
    [InlineData("borderline", false, Actions.Review)]
    public void A_quarantined_entry_is_at_most_a_review_and_says_so(string bank, bool quarantined, string expected)
    {
        var policy = Policy.Default with { Banks = new Dictionary<string, PolicyBankRule> { ["borderline"] = Actions.Review } };
        var hit = new BankHit(bank, "meme", 3) { Quarantined = quarantined };
        var verdict = Decider.Decide(policy, new UploadSignals { Banks = BankSignal.Matched(hit), Model = ModelSignal.Still("m", Policy.KnownLabels, [0, 0, 1, 0, 0]) });
        Assert.Equal(expected, verdict.Action);
        Assert.Equal(expected, Decider.BankAction(policy, hit));
        var reason = Assert.Single(verdict.Reasons, r => r.Source == "bank");
        Assert.Equal(quarantined ? Decider.QuarantinedCode : null, reason.Code);
        Assert.Equal(quarantined, reason.Message?.Contains("quarantined", StringComparison.Ordinal) ?? false);
        Assert.Equal(quarantined || bank == "borderline", verdict.ModelRan); // a quarantined takedown needs the model again
        Assert.Equal(!quarantined && bank == "known-bad", Decider.Settled(policy, new UploadSignals { Banks = BankSignal.Matched(hit) }) is not null);
    }
}
