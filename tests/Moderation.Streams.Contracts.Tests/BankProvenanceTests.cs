using System.Text;
using System.Text.Json;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Contracts.Tests;

/// <summary>Provenance on bank reasons (issue 22, item 5): every bank reason names the matched entry's label, source and
/// added_at when it has them, bounded and escaped like every other reason text; DESIGN.md's reason is unchanged without.</summary>
public sealed class BankProvenanceTests
{
    private static readonly DateTimeOffset Added = new(2026, 11, 3, 8, 15, 30, 250, TimeSpan.Zero);

    private static Policy Parse(string json) => PolicyFile.Parse(Encoding.UTF8.GetBytes(json), "p.json");

    private static readonly Policy Rules = Parse("""
        {"version":"prov-1","takedown":{"porn":0.9},"review":{"porn":0.6},
         "banks":{"known-bad":"takedown","partner-x":"review","benign":"suppress"}}
        """);

    private static ModelSignal Model(float porn) =>
        ModelSignal.Still("m", Policy.KnownLabels, [.. Policy.KnownLabels.Select(l => l == "porn" ? porn : l == "neutral" ? 1 - porn : 0f)]);

    private static BankHit Hit(string bank, int distance, string id = "h-77", string? label = "csam-a1", string? source = "ncmec-2026-11.csv",
        DateTimeOffset? added = null) =>
        new(bank, id, distance) { EntryLabel = label, EntrySource = source, AddedAt = added ?? Added };

    private static string Json(DecisionReason reason) => JsonSerializer.Serialize(reason, ContractJson.Options);

    [Fact]
    public void A_takedown_bank_reason_carries_the_entrys_label_source_and_added_at()
    {
        var verdict = Decider.Decide(Rules, new UploadSignals { Banks = BankSignal.FromHits([Hit("known-bad", 6)], 90) });
        Assert.Equal(Actions.Takedown, verdict.Action);
        var reason = Assert.Single(verdict.Reasons);
        Assert.Equal(("csam-a1", "ncmec-2026-11.csv", Added), (reason.EntryLabel, reason.EntrySource, reason.AddedAt!.Value));
        Assert.Equal("""{"source":"bank","bank":"known-bad","distance":6,"match_id":"h-77","entry_label":"csam-a1","entry_source":"ncmec-2026-11.csv","added_at":"2026-11-03T08:15:30.250Z"}""",
            Json(reason));
    }

    [Fact]
    public void Without_provenance_the_reason_is_exactly_the_designs()
    {
        var reason = Decider.BankReason(new BankHit("known-bad", "h-77", 6));
        Assert.Equal("""{"source":"bank","bank":"known-bad","distance":6,"match_id":"h-77"}""", Json(reason));
        // Each field is written on its own: one present, the others omitted.
        Assert.Equal("""{"source":"bank","bank":"b","distance":1,"match_id":"i","entry_label":"L"}""",
            Json(Decider.BankReason(new BankHit("b", "i", 1) { EntryLabel = "L" })));
        Assert.Equal("""{"source":"bank","bank":"b","distance":1,"match_id":"i","entry_source":"S"}""",
            Json(Decider.BankReason(new BankHit("b", "i", 1) { EntrySource = "S" })));
        Assert.Equal("""{"source":"bank","bank":"b","distance":1,"match_id":"i","added_at":"2026-11-03T08:15:30.250Z"}""",
            Json(Decider.BankReason(new BankHit("b", "i", 1) { AddedAt = Added })));
    }

    [Fact]
    public void A_review_bank_reason_beside_the_models_carries_provenance()
    {
        var verdict = Decider.Decide(Rules, new UploadSignals { Banks = BankSignal.FromHits([Hit("partner-x", 4, label: "spam")], 90), Model = Model(0.1f) });
        Assert.Equal(Actions.Review, verdict.Action);
        var reason = Assert.Single(verdict.Reasons, r => r.Source == "bank");
        Assert.Equal(("partner-x", "spam", "ncmec-2026-11.csv", Added), (reason.Bank, reason.EntryLabel, reason.EntrySource, reason.AddedAt!.Value));
    }

    [Fact]
    public void A_suppressing_reason_names_the_benign_entrys_provenance()
    {
        var benign = Hit("benign", 3, "meme-1", label: "meme", source: "benign-list", added: Added.AddDays(-2));
        var verdict = Decider.Decide(Rules, new UploadSignals { Banks = BankSignal.FromHits([Hit("known-bad", 5), benign], 90), Model = Model(0.1f) });
        var reason = Assert.Single(verdict.Reasons);
        Assert.Equal(PolicyBankRule.Suppress, reason.Code);
        Assert.Equal(("meme-1", "meme", "benign-list", Added.AddDays(-2)), (reason.MatchId, reason.EntryLabel, reason.EntrySource, reason.AddedAt!.Value));
    }

    [Fact]
    public void A_quarantined_entry_keeps_its_provenance()
    {
        var reason = Decider.BankReason(Hit("known-bad", 2) with { Quarantined = true });
        Assert.Equal(Decider.QuarantinedCode, reason.Code);
        Assert.Equal(("csam-a1", "ncmec-2026-11.csv", Added), (reason.EntryLabel, reason.EntrySource, reason.AddedAt!.Value));
    }

    [Fact]
    public void A_bank_match_on_a_cached_decision_carries_provenance()
    {
        var cached = new DecisionEvent
        {
            ContentId = "c-1", Action = Actions.Allow, Reasons = [], PolicyVersion = "prov-1", DecidedAt = Added,
            Source = new SourceInfo("uploads", 0, 1),
        };
        foreach (var (bank, action) in new[] { ("known-bad", Actions.Takedown), ("partner-x", Actions.Review) })
        {
            var verdict = Decider.Decide(Rules, new UploadSignals { Banks = BankSignal.FromHits([Hit(bank, 4)], 90), Cached = cached });
            Assert.Equal(action, verdict.Action);
            var reason = Assert.Single(verdict.Reasons, r => r.Source == "bank");
            Assert.Equal(("csam-a1", "ncmec-2026-11.csv", Added), (reason.EntryLabel, reason.EntrySource, reason.AddedAt!.Value));
        }
    }

    [Fact]
    public void The_closest_hit_of_a_bank_keeps_its_own_provenance()
    {
        var signal = BankSignal.FromHits([Hit("known-bad", 9, "far", label: "far-label"), Hit("known-bad", 2, "near", label: "near-label")], 90);
        var reason = Decider.BankReason(Assert.Single(signal.Hits));
        Assert.Equal(("near", "near-label"), (reason.MatchId, reason.EntryLabel));
    }

    [Fact]
    public void Label_and_source_are_escaped_and_cut_to_the_bank_label_limit()
    {
        var reason = Decider.BankReason(new BankHit("b", "i", 1)
        {
            EntryLabel = "evil\u001b[2J\nlabel", EntrySource = new string('s', TextLimits.BankLabelChars + 50),
        });
        Assert.Equal("evil\\u001B[2J\\u000Alabel", reason.EntryLabel);
        Assert.Equal(TextLimits.BankLabelChars, reason.EntrySource!.Length);
        Assert.EndsWith(SafeText.Ellipsis, reason.EntrySource, StringComparison.Ordinal);
        // Exactly at the limit: kept whole.
        var exact = new string('x', TextLimits.BankLabelChars);
        Assert.Equal(exact, new DecisionReason { Source = "bank", EntryLabel = exact, EntrySource = exact }.EntryLabel);
        Assert.Equal(exact, new DecisionReason { Source = "bank", EntryLabel = exact, EntrySource = exact }.EntrySource);
    }

    [Fact]
    public void An_exact_file_hash_match_names_its_digest_kind_and_takes_the_upload_down()
    {
        var hit = new BankHit("ncmec", "n-1", 0) { Digest = "sha256" };
        Assert.Equal("""{"source":"bank","bank":"ncmec","distance":0,"match_id":"n-1","digest":"sha256"}""", Json(Decider.BankReason(hit)));
        var verdict = Decider.Decide(Rules, new UploadSignals { Banks = BankSignal.FromHits([hit]) });
        Assert.Equal(Actions.Takedown, verdict.Action);
        Assert.Same(hit, verdict.BankTakedown);
        Assert.Equal("sha256", Assert.Single(verdict.Reasons).Digest);
        // A known-benign exact file cancels the others, and says so with its kind.
        var benign = new BankHit("benign", "b-1", 0) { Digest = "md5" };
        var suppressed = Decider.Decide(Rules, new UploadSignals { Banks = BankSignal.FromHits([hit with { Bank = "known-bad" }, benign]), Model = Model(0.1f) });
        Assert.Equal(Actions.Allow, suppressed.Action);
        Assert.Equal(("benign", "md5", PolicyBankRule.Suppress), (suppressed.Reasons[0].Bank, suppressed.Reasons[0].Digest, suppressed.Reasons[0].Code));
        Assert.Equal("x\\u000A", Decider.BankReason(hit with { Digest = "x\n" }).Digest); // escaped like every reason text
    }

    [Fact]
    public void Provenance_survives_the_decision_round_trip()
    {
        var decision = new DecisionEvent
        {
            ContentId = "c-1", Action = Actions.Takedown, Reasons = [Decider.BankReason(Hit("known-bad", 6))], PolicyVersion = "prov-1",
            DecidedAt = Added, Source = new SourceInfo("uploads", 0, 1),
        };
        var back = DecisionEvent.FromUtf8Json(decision.ToUtf8Json());
        var reason = Assert.Single(back.Reasons);
        Assert.Equal(("csam-a1", "ncmec-2026-11.csv", Added), (reason.EntryLabel, reason.EntrySource, reason.AddedAt!.Value));
    }
}
