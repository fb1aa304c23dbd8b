using Moderation.Streams.Evaluation;

namespace Moderation.Streams.Evaluation.Tests;

/// <summary>Average precision worked out by hand, and the score axis of the plots: log-odds where scores crowd at an
/// end, with ticks that read as probabilities.</summary>
public class PlotAxisTests
{
    [Fact]
    public void Average_precision_sums_precision_over_each_step_of_recall()
    {
        // 0.9 ✓ → P 1, R 1/3; 0.8 ✓✗ → P 2/3, R 2/3; 0.6 ✓ → P 3/4, R 1; below, recall does not move.
        var sweep = ThresholdSweep.Of([0.9f, 0.8f, 0.8f, 0.6f, 0.4f, 0.2f], [true, true, false, true, false, false]);
        Assert.Equal((1 + 2.0 / 3 + 3.0 / 4) / 3, sweep.AveragePrecision, 12);
        Assert.Equal(1.0, ThresholdSweep.Of([0.9f, 0.1f], [true, false]).AveragePrecision);
        Assert.True(double.IsNaN(ThresholdSweep.Of([0.9f], [false]).AveragePrecision));
    }

    [Fact]
    public void Scores_crowding_near_zero_get_a_log_odds_axis_with_probability_ticks()
    {
        // Like the drawing scores: most of the set between 1e-5 and 1e-3.
        float[] scores = [2.5e-5f, 4e-5f, 1e-4f, 3e-4f, 8e-4f, 0.002f, 0.3f, 0.97f];
        var axis = ScoreAxis.For(scores);

        Assert.True(axis.LogOdds);
        Assert.Equal(["0.00001", "0.0001", "0.001", "0.01", "0.1", "0.5", "0.9", "0.99"], axis.Ticks.Select(t => t.Label));
        Assert.All(axis.Ticks, t => Assert.DoesNotContain("E", t.Label, StringComparison.OrdinalIgnoreCase));
        // Each decade gets its own stretch of the axis: 2.5e-5 and 4e-5 no longer sit on top of each other.
        Assert.True(axis.Map(4e-5) - axis.Map(2.5e-5) > 0.4);
        Assert.Equal(0, axis.Map(0.5), 12);
        Assert.True(axis.Limits.Min <= axis.Map(2.5e-5) && axis.Map(0.97) <= axis.Limits.Max);
        Assert.Equal(ScoreAxis.Logit(ScoreAxis.Floor), axis.Map(0));
    }

    [Fact]
    public void Spread_scores_keep_a_linear_axis_with_a_tick_every_tenth()
    {
        var axis = ScoreAxis.For([0.1f, 0.3f, 0.45f, 0.6f, 0.8f, 0.02f]);
        Assert.False(axis.LogOdds);
        Assert.Equal(["0.0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1.0"], axis.Ticks.Select(t => t.Label));
        Assert.Equal(0.45, axis.Map(0.45), 12);
        Assert.Equal((0.0, 1.0), axis.Limits);
    }
}
