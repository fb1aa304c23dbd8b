using Moderation.Streams.Contracts;
using Moderation.Streams.Inference;

namespace Moderation.Streams.Worker;

/// <summary>
/// Turns per-frame class scores into one decision: each class's score for the policy is its
/// <c>k</c>-th highest frame score (<c>k</c> = <see cref="Media.Video.VideoMatchOptions.MinFramesOverThreshold"/>,
/// capped at the frame count; 1 = the maximum), so an action needs at least <c>k</c> frames over its threshold.
/// Each model reason lists the frames at or over its threshold ("N of M frames").
/// </summary>
public static class VideoScores
{
    /// <param name="MaxScores">Highest frame score per class (the decision's <c>scores</c>).</param>
    /// <param name="TopFrame">The frame that drove the first reason, or the highest-scoring frame of the top class.</param>
    public sealed record Result(string Action, IReadOnlyList<DecisionReason> Reasons, IReadOnlyDictionary<string, float> MaxScores, int TopFrame);

    public static Result Aggregate(Policy policy, string model, IReadOnlyList<long> timestampsMs, IReadOnlyList<ClassScores> frames, int minFramesOverThreshold = 1, string? surface = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        if (frames.Count == 0) throw new ArgumentException("no frames", nameof(frames));
        if (timestampsMs.Count != frames.Count) throw new ArgumentException("one timestamp per frame", nameof(timestampsMs));
        ArgumentOutOfRangeException.ThrowIfLessThan(minFramesOverThreshold, 1);
        var labels = frames[0].Labels;
        int k = Math.Min(minFramesOverThreshold, frames.Count);
        var max = new Dictionary<string, float>(labels.Count, StringComparer.Ordinal);
        var kth = new Dictionary<string, float>(labels.Count, StringComparer.Ordinal);
        var column = new float[frames.Count];
        for (int l = 0; l < labels.Count; l++)
        {
            for (int f = 0; f < frames.Count; f++) column[f] = frames[f].Values[l];
            Array.Sort(column);
            max[labels[l]] = column[^1];
            kth[labels[l]] = column[^k];
        }

        var (action, reasons) = policy.Decide(model, kth, surface);
        var withFrames = new List<DecisionReason>(reasons.Count);
        int top = -1;
        foreach (var reason in reasons)
        {
            if (reason.Label is not { } label || reason.Threshold is not { } threshold) { withFrames.Add(reason); continue; }
            int l = IndexOf(labels, label);
            var over = new List<long>();
            int best = -1;
            for (int f = 0; f < frames.Count; f++)
            {
                if (frames[f].Values[l] < threshold) continue;
                over.Add(timestampsMs[f]);
                if (best < 0 || frames[f].Values[l] > frames[best].Values[l]) best = f;
            }
            if (top < 0) top = best;
            withFrames.Add(reason with
            {
                FrameTimestampsMs = over,
                FramesSampled = frames.Count,
                Message = $"{over.Count} of {frames.Count} frames at or over {threshold:0.##}",
            });
        }
        if (top < 0)
        {
            // No reason: the frame with the highest score of any class but "neutral" stands for the video.
            float bestScore = -1;
            for (int f = 0; f < frames.Count; f++)
                for (int l = 0; l < labels.Count; l++)
                    if (labels[l] != "neutral" && frames[f].Values[l] > bestScore) (bestScore, top) = (frames[f].Values[l], f);
        }
        return new Result(action, withFrames, max, Math.Max(0, top));
    }

    private static int IndexOf(IReadOnlyList<string> labels, string label)
    {
        for (int i = 0; i < labels.Count; i++)
            if (string.Equals(labels[i], label, StringComparison.Ordinal)) return i;
        throw new KeyNotFoundException(label);
    }
}
