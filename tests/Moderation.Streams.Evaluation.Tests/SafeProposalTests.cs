using Moderation.Streams.Contracts;
using Moderation.Streams.Evaluation;

namespace Moderation.Streams.Evaluation.Tests;

/// <summary>
/// A proposal never loosens what the set cannot judge: a class without labelled examples keeps the base policy's
/// thresholds, review bands stay within the review cap, and what still breaks either rule is a listed problem.
/// </summary>
public class SafeProposalTests
{
    private static ScoredImage Img(string label, float drawing, float porn = 0, float sexy = 0) =>
        new(label + Guid.NewGuid().ToString("N")[..6], label, new Dictionary<string, float>
        {
            ["drawing"] = drawing, ["hentai"] = 0, ["neutral"] = Math.Max(0, 1 - drawing - porn - sexy), ["porn"] = porn, ["sexy"] = sexy,
        });

    private static readonly Policy Guarded = new()
    {
        Version = "guarded-1",
        Takedown = new Dictionary<string, float> { ["porn"] = 0.9f, ["hentai"] = 0.85f, ["drawing"] = 0.5f },
        Review = new Dictionary<string, float> { ["porn"] = 0.6f, ["hentai"] = 0.55f, ["drawing"] = 0.3f, ["sexy"] = 0.8f },
    };

    // Six drawings and twenty neutral images, scored on drawing: 0.8 and up is only drawings; a precision-0.5
    // review band reaches down to 0.04, where it would review 10 of the 26.
    private static List<ScoredImage> DrawingsAndPhotos()
    {
        var images = new List<ScoredImage>();
        foreach (var d in new[] { 0.9f, 0.8f, 0.3f, 0.2f, 0.1f, 0.05f }) images.Add(Img("drawing", d));
        images.Add(Img("neutral", 0.5f));
        for (int i = 0; i < 5; i++) images.Add(Img("neutral", 0.04f));
        for (int i = 0; i < 14; i++) images.Add(Img("neutral", 0.001f * (i + 1)));
        return images;
    }

    [Fact]
    public void A_class_the_set_has_no_example_of_keeps_its_current_thresholds()
    {
        var result = Evaluator.Evaluate(DrawingsAndPhotos(), LabelMode.Classes, Guarded, new EvaluationSettings { TargetPrecision = 0.95 });

        Assert.Equal(0.9f, result.Proposed.Takedown["porn"]);
        Assert.Equal(0.85f, result.Proposed.Takedown["hentai"]);
        Assert.Equal(0.6f, result.Proposed.Review["porn"]);
        Assert.Equal(0.55f, result.Proposed.Review["hentai"]);
        Assert.Equal(0.8f, result.Proposed.Review["sexy"]);
        Assert.Equal(0.8f, result.Proposed.Takedown["drawing"]); // drawing has examples: the set moves it
        Assert.Contains(result.Choices, c => c.Label == "porn" && c.Note.Contains("no labelled porn example"));
        Assert.True(result.MeetsTarget);
        Assert.Empty(result.Problems);
    }

    [Fact]
    public void A_binary_set_without_unsafe_images_keeps_every_threshold()
    {
        var images = Enumerable.Range(0, 10).Select(i => new ScoredImage($"s{i}", LabelledSet.Safe,
            new Dictionary<string, float> { ["drawing"] = 0, ["hentai"] = 0.01f * i, ["neutral"] = 0.9f, ["porn"] = 0.02f * i, ["sexy"] = 0 })).ToList();
        var result = Evaluator.Evaluate(images, LabelMode.Binary, Policy.Default, new EvaluationSettings());
        Assert.Equal(Policy.Default.Takedown.OrderBy(kv => kv.Key), result.Proposed.Takedown.OrderBy(kv => kv.Key));
        Assert.Equal(Policy.Default.Review.OrderBy(kv => kv.Key), result.Proposed.Review.OrderBy(kv => kv.Key));
        Assert.Empty(result.Problems);
    }

    [Fact]
    public void Review_bands_from_the_set_are_raised_until_at_most_the_cap_goes_to_review()
    {
        var images = DrawingsAndPhotos();
        var result = Evaluator.Evaluate(images, LabelMode.Classes, Guarded, new EvaluationSettings { TargetPrecision = 0.95, MaxReviewShare = 0.2 });

        // 0.04 would review 0.5, 0.3, 0.2, 0.1, 0.05 and the five neutrals at 0.04: 10 of 26. At 0.05: 5 of 26.
        Assert.Equal(0.05f, result.Proposed.Review["drawing"]);
        Assert.Equal(5, result.ProposedOutcome.Reviews);
        Assert.Empty(result.Problems);

        var wider = Evaluator.Evaluate(images, LabelMode.Classes, Guarded, new EvaluationSettings { TargetPrecision = 0.95, MaxReviewShare = 0.5 });
        Assert.Equal(0.04f, wider.Proposed.Review["drawing"]);
        Assert.Equal(10, wider.ProposedOutcome.Reviews);
    }

    [Fact]
    public void A_review_share_over_the_cap_that_only_kept_thresholds_cause_is_a_problem()
    {
        // The base reviews any sexy score: the set has no sexy example to say otherwise, so the band stays — and the
        // proposal, reviewing nearly everything, is not safe to use.
        var flooding = Guarded with { Review = new Dictionary<string, float>(Guarded.Review) { ["sexy"] = 1e-6f } };
        var images = DrawingsAndPhotos().Select(i => i with { Scores = new Dictionary<string, float>(i.Scores) { ["sexy"] = 0.01f } }).ToList();
        var result = Evaluator.Evaluate(images, LabelMode.Classes, flooding, new EvaluationSettings { TargetPrecision = 0.95 });

        Assert.Equal(1e-6f, result.Proposed.Review["sexy"]);
        var problem = Assert.Single(result.Problems);
        Assert.Contains("to review, above the cap of 20", problem);
        Assert.Contains("Not safe to use", EvaluationReport.Markdown(result, "set"));
    }
}
