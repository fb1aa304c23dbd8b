using Moderation.Streams.Contracts;

namespace Moderation.Streams.Review.Tests;

/// <summary>The queue's order: known material first, then confident scores of harmful classes; benign classes low.</summary>
public sealed class ReviewPriorityTests
{
    private static DecisionEvent With(params DecisionReason[] reasons) => new()
    {
        ContentId = "c", Action = Actions.Review, Reasons = reasons, PolicyVersion = "p", DecidedAt = DateTimeOffset.UnixEpoch,
        Scores = new Dictionary<string, float> { ["drawing"] = 0.1f, ["hentai"] = 0.05f, ["neutral"] = 0.6f, ["porn"] = 0.2f, ["sexy"] = 0.05f },
    };

    private static DecisionReason Model(string label, float score) => new() { Source = "model", Label = label, Score = score };

    [Fact]
    public void A_near_bank_match_outranks_a_confident_harmful_score_which_outranks_a_benign_one()
    {
        double bank = ReviewPriority.Of(With(new DecisionReason { Source = "bank", Bank = "b", Distance = 4 }));
        double farBank = ReviewPriority.Of(With(new DecisionReason { Source = "bank", Bank = "b", Distance = 30 }));
        double porn = ReviewPriority.Of(With(Model("porn", 0.75f)));
        double weakPorn = ReviewPriority.Of(With(Model("porn", 0.62f)));
        double sexy = ReviewPriority.Of(With(Model("sexy", 0.85f)));
        double neutral = ReviewPriority.Of(With(Model("neutral", 0.99f)));
        Assert.True(bank > farBank, $"{bank} > {farBank}");
        Assert.True(farBank > porn, $"{farBank} > {porn}");
        Assert.True(porn > sexy, $"{porn} > {sexy}");
        Assert.True(sexy > neutral, $"{sexy} > {neutral}");
        Assert.True(porn > weakPorn, $"{porn} > {weakPorn}");
        Assert.True(weakPorn > neutral, $"{weakPorn} > {neutral}");
        Assert.Equal(30, neutral);
    }

    [Fact]
    public void Another_independent_reason_adds_a_little_and_nothing_exceeds_100()
    {
        double one = ReviewPriority.Of(With(Model("porn", 0.8f)));
        double two = ReviewPriority.Of(With(Model("porn", 0.8f), new DecisionReason { Source = "text", Category = "scam" }));
        Assert.Equal(one + 2, two, 3);
        var many = Enumerable.Range(0, 40).Select(_ => new DecisionReason { Source = "bank", Bank = "b", Distance = 0 }).ToArray();
        Assert.Equal(100, ReviewPriority.Of(With(many)));
        Assert.Equal(0, ReviewPriority.Of(With()));
    }

    [Fact]
    public void The_top_score_shown_is_the_most_harmful_class_not_the_largest()
    {
        var top = ReviewPriority.TopHarm(With(Model("neutral", 0.6f)));
        Assert.Equal("porn", top!.Value.Key);
        Assert.Null(ReviewPriority.TopHarm(With() with { Scores = null }));
    }
}
