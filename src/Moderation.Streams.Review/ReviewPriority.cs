using Moderation.Streams.Contracts;

namespace Moderation.Streams.Review;

/// <summary>
/// How urgent a queued item is, 0–100 from the decision alone, higher first; ties go to the older item. The most severe
/// reason sets it: a near bank match (known material) above a confident score of a harmful class above a text or uploader
/// signal (a benign class a policy sends to review ranks low); each
/// further independent reason adds a little. An escalated item jumps the queue (+<see cref="EscalationBoost"/>).
/// </summary>
public static class ReviewPriority
{
    public const double EscalationBoost = 100;

    /// <summary>How much a model class's score says about harm: the explicit classes fully, <c>sexy</c> less, the benign
    /// classes (<c>neutral</c>, <c>drawing</c>) not at all (a policy may still send them to review: they rank low).</summary>
    public static double Harm(string? label) => label switch
    {
        "porn" or "hentai" => 1.0,
        "sexy" => 0.7,
        "neutral" or "drawing" => 0.0,
        _ => 0.5,
    };

    /// <summary>The most harmful class and its score, for the queue's "top score" column (null without scores).</summary>
    public static KeyValuePair<string, float>? TopHarm(DecisionEvent decision) =>
        decision.Scores?.Where(s => Harm(s.Key) > 0).OrderByDescending(s => Harm(s.Key) * s.Value).Cast<KeyValuePair<string, float>?>().FirstOrDefault();

    public static double Of(DecisionEvent decision)
    {
        double best = 0;
        int signals = 0;
        foreach (var r in decision.Reasons)
        {
            double p = r.Source switch
            {
                "bank" => 95 - Math.Clamp(r.Distance ?? 31, 0, 64) / 2.0,
                "model" => 30 + 60 * Harm(r.Label) * Math.Clamp(r.Score ?? 0, 0, 1),
                "campaign" => 70,
                "uploader" => Math.Min(80, 50 + 5 * (r.Count ?? 0)),
                "text" => 60,
                "fail-closed" => 45,
                _ => 20,
            };
            best = Math.Max(best, p);
            signals++;
        }
        return Math.Round(Math.Min(100, best + 2 * Math.Max(0, signals - 1)), 2);
    }
}
