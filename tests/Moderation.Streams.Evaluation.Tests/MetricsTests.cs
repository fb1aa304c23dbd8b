using Moderation.Streams.Contracts;
using Moderation.Streams.Evaluation;

namespace Moderation.Streams.Evaluation.Tests;

/// <summary>Metrics and threshold search against results worked out by hand.</summary>
public class MetricsTests
{
    [Fact]
    public void Per_class_precision_recall_and_f1_come_from_the_confusion_matrix()
    {
        // labels → predicted:  porn→porn ×3, porn→sexy ×1, sexy→sexy ×2, sexy→porn ×2, neutral→neutral ×4, neutral→porn ×1
        var m = new ConfusionMatrix(Policy.KnownLabels);
        foreach (var (actual, predicted, n) in new[] { ("porn", "porn", 3), ("porn", "sexy", 1), ("sexy", "sexy", 2), ("sexy", "porn", 2), ("neutral", "neutral", 4), ("neutral", "porn", 1) })
            for (int i = 0; i < n; i++) m.Add(actual, predicted);

        Assert.Equal(13, m.Total);
        Assert.Equal(2, m["sexy", "porn"]);
        var porn = m.For("porn"); // predicted porn: 3 + 2 + 1 = 6, of which 3 right; 4 labelled porn
        Assert.Equal((3, 3, 1, 4), (porn.TruePositives, porn.FalsePositives, porn.FalseNegatives, porn.Support));
        Assert.Equal(0.5, porn.Precision);
        Assert.Equal(0.75, porn.Recall);
        Assert.Equal(0.6, porn.F1, 12);
        var sexy = m.For("sexy"); // predicted sexy: 1 + 2 = 3, 2 right; 4 labelled sexy
        Assert.Equal((2.0 / 3, 0.5), (sexy.Precision, sexy.Recall));
        Assert.Equal(1.0, m.For("neutral").Precision);
        Assert.Equal(0.8, m.For("neutral").Recall);
        Assert.True(double.IsNaN(m.For("hentai").Precision)); // never predicted, never present: undefined, not 0
        Assert.Equal(9.0 / 13, m.Accuracy, 12);
        Assert.Equal((0.6 + 4.0 / 7 + 8.0 / 9) / 3, m.MacroF1, 12); // F1 sexy = 2·(2/3)(1/2)/(2/3+1/2) = 4/7, neutral = 8/9
    }

    [Fact]
    public void The_sweep_has_one_point_per_distinct_score_and_ties_fall_together()
    {
        //              0.9  0.8  0.8   0.6  0.4   0.2
        float[] scores = [0.9f, 0.8f, 0.8f, 0.6f, 0.4f, 0.2f];
        bool[] positive = [true, true, false, true, false, false];
        var sweep = ThresholdSweep.Of(scores, positive);

        Assert.Equal([0.9f, 0.8f, 0.6f, 0.4f, 0.2f], sweep.Points.Select(p => p.Threshold));
        Assert.Equal([(1, 0, 2), (2, 1, 1), (3, 1, 0), (3, 2, 0), (3, 3, 0)], sweep.Points.Select(p => (p.TruePositives, p.FalsePositives, p.FalseNegatives)));
        Assert.Equal(0.75, sweep.At(0.6f).Precision);
        Assert.Equal(0.75, sweep.At(0.5f).Precision); // between scores: same as the next score up
        Assert.Equal(0, sweep.At(0.95f).TruePositives);
        Assert.Equal(2.0 * 3 / (2 * 3 + 1 + 0), sweep.At(0.6f).F1, 12);
    }

    [Theory]
    [InlineData(1.0, 0.9f)]   // only the top score is clean
    [InlineData(0.75, 0.6f)]  // 3 of 4 at 0.6, the lowest threshold still reaching 0.75 (all positives)
    [InlineData(0.7, 0.6f)]
    [InlineData(0.6, 0.4f)]   // 3 of 5 = 0.6 at 0.4
    [InlineData(0.5, 0.2f)]
    public void The_threshold_for_a_target_precision_is_the_lowest_that_still_reaches_it(double target, float expected)
    {
        var sweep = ThresholdSweep.Of([0.9f, 0.8f, 0.8f, 0.6f, 0.4f, 0.2f], [true, true, false, true, false, false]);
        var point = sweep.ThresholdFor(target)!;
        Assert.Equal(expected, point.Threshold);
        Assert.True(point.Precision >= target);
    }

    [Fact]
    public void No_threshold_is_proposed_when_the_target_cannot_be_reached()
    {
        var sweep = ThresholdSweep.Of([0.9f, 0.5f], [false, true]);
        Assert.Null(sweep.ThresholdFor(0.9)); // the top score is a false positive: at best 1 of 2
        Assert.Null(ThresholdSweep.Of([0.9f, 0.5f], [false, false]).ThresholdFor(0.1)); // no positives at all
    }

    private static ScoredImage Img(string label, float porn, float hentai = 0, float sexy = 0)
    {
        float neutral = Math.Max(0, 1 - porn - hentai - sexy);
        return new ScoredImage(label + Guid.NewGuid().ToString("N")[..4], label,
            new Dictionary<string, float> { ["drawing"] = 0, ["hentai"] = hentai, ["neutral"] = neutral, ["porn"] = porn, ["sexy"] = sexy });
    }

    [Fact]
    public void The_proposed_policy_takes_per_class_thresholds_that_reach_the_target_and_a_review_band_below()
    {
        var images = new List<ScoredImage>
        {
            Img("porn", 0.97f), Img("porn", 0.7f), Img("porn", 0.6f), Img("neutral", 0.5f),
            Img("hentai", 0, hentai: 0.96f), Img("hentai", 0, hentai: 0.8f), Img("hentai", 0, hentai: 0.7f), Img("sexy", 0, hentai: 0.5f, sexy: 0.4f),
            Img("neutral", 0.1f), Img("neutral", 0.05f), Img("drawing", 0.02f),
        };
        var result = Evaluator.Evaluate(images, LabelMode.Classes, Policy.Default, new EvaluationSettings { TargetPrecision = 0.8, ReviewPrecision = 0.7 });

        Assert.True(result.MeetsTarget);
        // porn: at 0.6 three of three are porn; at 0.5 the neutral one joins (3/4 < 0.8). hentai: 0.7, then the sexy one at 0.5.
        Assert.Equal(0.6f, result.Proposed.Takedown["porn"]);
        Assert.Equal(0.7f, result.Proposed.Takedown["hentai"]);
        Assert.Equal((6, 6), (result.ProposedOutcome.Takedowns, result.ProposedOutcome.CorrectTakedowns));
        Assert.Equal(0, result.ProposedOutcome.UnsafeAllowed);
        // Review band at precision 0.7: 3 of 4 at 0.5 for both (0.1 would be 3 of 5).
        Assert.Equal(0.5f, result.Proposed.Review["porn"]);
        Assert.Equal(0.5f, result.Proposed.Review["hentai"]);
        Assert.Equal(0.8f, result.Proposed.Review["sexy"]); // not a takedown class: kept from the base policy
        // The current policy (0.9) takes down two, reviews four and lets no unsafe image through.
        Assert.Equal((2, 2, 4, 0), (result.Current.Takedowns, result.Current.CorrectTakedowns, result.Current.Reviews, result.Current.UnsafeAllowed));
        Assert.Equal("2026-11-25.1+eval", result.Proposed.Version);
    }

    [Fact]
    public void When_classes_together_miss_the_target_the_class_with_most_false_takedowns_is_raised()
    {
        // Binary labels: porn alone reaches 4/5 at 0.45 (s1 the false one), hentai alone 4/5 at 0.05 (s2); together
        // they take down all six: 4/6 < 0.75. Each causes one false takedown; hentai (first by name) goes up, to 0.8
        // (still 4/6), then to 0.9: 4/5.
        var images = new List<ScoredImage>
        {
            Img("unsafe", 0.45f, hentai: 0.9f), Img("unsafe", 0.45f, hentai: 0.9f), Img("unsafe", 0.9f, hentai: 0.05f), Img("unsafe", 0.9f, hentai: 0.05f),
            Img("safe", 0.8f), Img("safe", 0, hentai: 0.8f),
        };
        var result = Evaluator.Evaluate(images, LabelMode.Binary, Policy.Default, new EvaluationSettings { TargetPrecision = 0.75 });
        Assert.True(result.MeetsTarget);
        Assert.Equal(0.9f, result.Proposed.Takedown["hentai"]);
        Assert.Equal(0.45f, result.Proposed.Takedown["porn"]);
        Assert.Equal((5, 4), (result.ProposedOutcome.Takedowns, result.ProposedOutcome.CorrectTakedowns));
        Assert.Equal(0.8, result.ProposedOutcome.TakedownPrecision);
    }

    [Fact]
    public void Binary_labels_count_unsafe_as_the_classes_the_policy_takes_down()
    {
        var images = new List<ScoredImage>
        {
            Img("unsafe", 0.95f), Img("unsafe", 0, hentai: 0.9f), Img("unsafe", 0.3f, sexy: 0.6f), Img("safe", 0.2f), Img("safe", 0.6f, sexy: 0.1f),
        };
        var result = Evaluator.Evaluate(images, LabelMode.Binary, Policy.Default, new EvaluationSettings { TargetPrecision = 0.99 });
        Assert.Equal(["hentai", "porn"], result.UnsafeClasses);
        Assert.Equal(["hentai", "porn"], result.Sweeps.Keys.Order());
        // top class: unsafe(porn) ✓, unsafe(hentai) ✓, unsafe(sexy → safe) ✗, safe(neutral) ✓, safe(porn → unsafe) ✗
        Assert.Equal((2, 1, 1, 1), (result.Confusion["unsafe", "unsafe"], result.Confusion["unsafe", "safe"], result.Confusion["safe", "unsafe"], result.Confusion["safe", "safe"]));
        Assert.Equal((1, 3, 2), (result.Current.UnsafeAllowed, result.Current.Unsafe, result.Current.Takedowns)); // the sexy-looking one slips through
        Assert.Equal(0.95f, result.Proposed.Takedown["porn"]);
    }

    [Fact]
    public void Labels_load_from_csv_with_line_precise_errors()
    {
        var dir = Directory.CreateTempSubdirectory("labels-");
        try
        {
            var csv = Path.Combine(dir.FullName, "labels.csv");
            File.WriteAllText(csv, "path,label\n# a comment\na.png,Porn\nsub/b.png,neutral\n");
            var set = LabelledSet.Load(csv);
            Assert.Equal(LabelMode.Classes, set.Mode);
            Assert.Equal([Path.Combine(dir.FullName, "a.png"), Path.Combine(dir.FullName, "sub", "b.png")], set.Images.Select(i => i.Path));
            Assert.Equal("porn", set.Images[0].Label);

            File.WriteAllText(csv, "a.png,safe\nb.png,unsafe\nc.png,porn\n");
            Assert.Contains("line 3: label 'porn' must be safe or unsafe", Assert.Throws<InvalidDataException>(() => LabelledSet.Load(csv)).Message);
            File.WriteAllText(csv, "a.png,porn\nno-comma-here\n");
            Assert.Contains("line 2: expected 'path,label'", Assert.Throws<InvalidDataException>(() => LabelledSet.Load(csv)).Message);
            File.WriteAllText(csv, "a.png,nudity\n");
            Assert.Contains("line 1: label 'nudity' must be one of", Assert.Throws<InvalidDataException>(() => LabelledSet.Load(csv)).Message);
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
