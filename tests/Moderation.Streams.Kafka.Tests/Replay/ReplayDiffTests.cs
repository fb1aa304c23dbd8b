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

        Assert.Equal("a,allow,review,p1,\"2026,\"\"b\"\"\",m1,m1,0,0",
            csv.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries)[1]);
    }
}
