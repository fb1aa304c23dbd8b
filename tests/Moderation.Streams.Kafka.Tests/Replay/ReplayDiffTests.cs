using Moderation.Streams.Contracts;
using Moderation.Streams.Kafka.Replay;

namespace Moderation.Streams.Kafka.Tests.Replay;

public sealed class ReplayDiffTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);

    private static PublishedOutcome Outcome(string id, string action, int minute, string policy = "p1", long offset = 0) =>
        new(id, action, T0.AddMinutes(minute), policy, "m1", 0, offset);

    [Fact]
    public void Each_content_id_is_compared_once_by_its_latest_outcome_on_each_side_and_a_missing_previous_one_reads_none()
    {
        PublishedOutcome[] previous =
        [
            Outcome("a", "allow", 0), Outcome("a", "review", 1), // latest before: review
            Outcome("b", "takedown", 0),
            Outcome("not-replayed", "allow", 0),
        ];
        PublishedOutcome[] replayed =
        [
            Outcome("a", "takedown", 5, "p2"),
            Outcome("b", "allow", 5, "p2"), Outcome("b", "takedown", 6, "p2"), // latest after: takedown, unchanged
            Outcome("c", PublishedOutcome.Dlq, 5, "p2", offset: 7),
        ];

        var diff = ReplayDiff.Compute(previous, replayed);

        Assert.Equal((3L, 1L, 2L), (diff.Compared, diff.Unchanged, diff.Changed));
        Assert.Equal([("a", "review->takedown"), ("c", "none->dlq")], diff.Changes.Select(c => (c.ContentId, c.Transition)));
        var a = Assert.Single(diff.Changes, c => c.ContentId == "a");
        Assert.Equal(("p1", "p2"), (a.BeforePolicyVersion, a.AfterPolicyVersion));
        Assert.Equal(7, Assert.Single(diff.Changes, c => c.ContentId == "c").Offset);
        Assert.Equal(new Dictionary<string, long> { ["none->dlq"] = 1, ["review->takedown"] = 1 }, diff.Transitions);
    }

    [Fact]
    public void The_csv_quotes_free_text_versions()
    {
        var diff = ReplayDiff.Compute([Outcome("a", "allow", 0)], [Outcome("a", "review", 1, "2026,\"b\"")]);
        using var csv = new StringWriter();

        diff.WriteCsv(csv);

        Assert.Equal("a,allow,review,p1,\"2026,\"\"b\"\"\",m1,m1,0,0,,,,,,",
            csv.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries)[1]);
    }

    [Fact]
    public void Reasons_scores_and_banks_of_each_side_are_columns_of_the_report()
    {
        static byte[] Decision(string action, string policy, DecisionReason[] reasons, Dictionary<string, float>? scores) => new DecisionEvent
        {
            ContentId = "x", Action = action, Reasons = reasons, Scores = scores, PolicyVersion = policy, ModelVersion = "m1",
            DecidedAt = T0, Source = new SourceInfo("uploads", 2, 40),
        }.ToUtf8Json();
        var before = PublishedOutcome.FromRecord(Topics.Review, Topics.Dlq, null,
            Decision(Actions.Review, "p1", [new DecisionReason { Source = "model", Model = "m1", Label = "porn", Score = 0.71f, Threshold = 0.6f }],
                new() { ["porn"] = 0.71f, ["sexy"] = 0.2f, ["neutral"] = 0.09f }), null, T0)!;
        var after = PublishedOutcome.FromRecord(Topics.Takedown, Topics.Dlq, null,
            Decision(Actions.Takedown, "p2", [new DecisionReason { Source = "bank", Bank = "known-bad", MatchId = "kb-7", Distance = 4 },
                new DecisionReason { Source = "model", Model = "m1", Label = "porn", Score = 0.71f, Threshold = 0.7f }], new() { ["porn"] = 0.71f, ["sexy"] = 0.2f }), null, T0.AddMinutes(1))!;

        var change = Assert.Single(ReplayDiff.Compute([before], [after]).Changes);
        Assert.Equal(("model:porn>=0.6", "bank:known-bad/kb-7@4 model:porn>=0.7"), (change.BeforeReason, change.AfterReason));
        Assert.Equal(("porn:0.71", "porn:0.71"), (change.BeforeScore, change.AfterScore));
        Assert.Equal((null, "known-bad"), (change.BeforeBank, change.AfterBank));

        using var csv = new StringWriter();
        ReplayDiff.Compute([before], [after]).WriteCsv(csv);
        var lines = csv.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.EndsWith(",before_reason,after_reason,before_score,after_score,before_bank,after_bank", lines[0], StringComparison.Ordinal);
        Assert.Equal("x,review,takedown,p1,p2,m1,m1,2,40,model:porn>=0.6,bank:known-bad/kb-7@4 model:porn>=0.7,porn:0.71,porn:0.71,,known-bad", lines[1]);

        var dlq = PublishedOutcome.FromRecord(Topics.Dlq, Topics.Dlq, "x"u8.ToArray(), [], new Confluent.Kafka.Headers { { DlqHeaders.ErrorCode, "media-unavailable"u8.ToArray() } }, T0.AddMinutes(2))!;
        Assert.Equal("media-unavailable", Assert.Single(ReplayDiff.Compute([after], [dlq]).Changes).AfterReason);
    }
}
