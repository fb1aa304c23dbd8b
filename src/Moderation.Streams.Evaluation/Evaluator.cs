using Moderation.Streams.Contracts;

namespace Moderation.Streams.Evaluation;

/// <summary>
/// Measures a model and a policy on labelled scores. Unsafe means a class the base policy takes down (in binary
/// sets: the <c>unsafe</c> label). Five-class sets get a confusion matrix of the top class and one sweep per
/// class (that class against the rest); binary sets a safe/unsafe matrix (top class unsafe or not) and one sweep
/// per unsafe class's score against the unsafe label. The proposal picks, per unsafe class, the lowest takedown
/// threshold whose precision for "unsafe" reaches the target, then — because any class over its threshold takes
/// down — raises the threshold of the class causing most false takedowns until the whole policy meets the target.
/// </summary>
public static class Evaluator
{
    public static EvaluationResult Evaluate(IReadOnlyList<ScoredImage> images, LabelMode mode, Policy basePolicy, EvaluationSettings settings)
    {
        if (images.Count == 0) throw new ArgumentException("nothing to evaluate", nameof(images));
        var unsafeClasses = basePolicy.Takedown.Keys.Order(StringComparer.Ordinal).ToList();
        if (unsafeClasses.Count == 0) throw new ArgumentException($"policy {basePolicy.Version} takes nothing down: no class counts as unsafe", nameof(basePolicy));
        bool IsUnsafe(ScoredImage i) => mode == LabelMode.Binary ? i.Label == LabelledSet.Unsafe : unsafeClasses.Contains(i.Label);

        ConfusionMatrix confusion;
        var sweeps = new Dictionary<string, ThresholdSweep>();
        if (mode == LabelMode.Classes)
        {
            confusion = new ConfusionMatrix(Policy.KnownLabels);
            foreach (var i in images) confusion.Add(i.Label, i.TopLabel);
            foreach (var label in Policy.KnownLabels)
                sweeps[label] = ThresholdSweep.Of([.. images.Select(i => Score(i, label))], [.. images.Select(i => i.Label == label)]);
        }
        else
        {
            confusion = new ConfusionMatrix([LabelledSet.Safe, LabelledSet.Unsafe]);
            foreach (var i in images) confusion.Add(i.Label, unsafeClasses.Contains(i.TopLabel) ? LabelledSet.Unsafe : LabelledSet.Safe);
            foreach (var label in unsafeClasses)
                sweeps[label] = ThresholdSweep.Of([.. images.Select(i => Score(i, label))], [.. images.Select(IsUnsafe)]);
        }
        var atTarget = sweeps.ToDictionary(s => s.Key, s => s.Value.ThresholdFor(settings.TargetPrecision));

        var (proposed, choices) = Propose(images, mode, IsUnsafe, unsafeClasses, basePolicy, settings);
        return new EvaluationResult(mode, images, unsafeClasses, confusion, sweeps, atTarget, basePolicy,
            Outcome(images, IsUnsafe, basePolicy, settings.Model), proposed, Outcome(images, IsUnsafe, proposed, settings.Model), choices, settings);
    }

    public static PolicyOutcome Outcome(IReadOnlyList<ScoredImage> images, Func<ScoredImage, bool> isUnsafe, Policy policy, string model)
    {
        int takedowns = 0, correct = 0, reviews = 0, unsafeReviewed = 0, allowed = 0, unsafeAllowed = 0, unsafeCount = 0;
        foreach (var image in images)
        {
            bool bad = isUnsafe(image);
            if (bad) unsafeCount++;
            switch (policy.ApplyThresholds(model, image.Scores).Action)
            {
                case Actions.Takedown: takedowns++; if (bad) correct++; break;
                case Actions.Review: reviews++; if (bad) unsafeReviewed++; break;
                default: allowed++; if (bad) unsafeAllowed++; break;
            }
        }
        return new PolicyOutcome(policy.Version, takedowns, correct, reviews, unsafeReviewed, allowed, unsafeAllowed, unsafeCount);
    }

    private static (Policy, IReadOnlyList<ThresholdChoice>) Propose(IReadOnlyList<ScoredImage> images, LabelMode mode, Func<ScoredImage, bool> isUnsafe,
        IReadOnlyList<string> unsafeClasses, Policy basePolicy, EvaluationSettings settings)
    {
        var truth = images.Select(isUnsafe).ToArray();
        // Start each class from its own sweep (five-class sets: that class against the rest; binary: against unsafe);
        // the loop below then judges the policy as a whole, where a takedown is right when the image is unsafe.
        var sweeps = unsafeClasses.ToDictionary(c => c, c => ThresholdSweep.Of([.. images.Select(i => Score(i, c))],
            mode == LabelMode.Classes ? [.. images.Select(i => i.Label == c)] : truth));
        var notes = new Dictionary<string, string>();
        var takedown = new Dictionary<string, float>();
        foreach (var c in unsafeClasses)
        {
            if (sweeps[c].ThresholdFor(settings.TargetPrecision) is { } point) takedown[c] = Clamp(point.Threshold);
            else notes[c] = $"no {c} threshold reaches precision {settings.TargetPrecision:0.###} on this set: not taken down";
        }

        // Classes add up: any class over its threshold takes down. Raise the worst offender until the whole policy meets the target.
        while (takedown.Count > 0)
        {
            var falseBy = new Dictionary<string, int>();
            int taken = 0, right = 0;
            for (int i = 0; i < images.Count; i++)
            {
                var over = takedown.Where(t => Score(images[i], t.Key) >= t.Value).Select(t => t.Key).ToList();
                if (over.Count == 0) continue;
                taken++;
                if (truth[i]) right++;
                else foreach (var c in over) falseBy[c] = falseBy.GetValueOrDefault(c) + 1;
            }
            if (taken == 0 || (double)right / taken >= settings.TargetPrecision) break;
            var worst = falseBy.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).First().Key;
            var next = sweeps[worst].Points.Where(p => p.Threshold > takedown[worst]).Select(p => (float?)p.Threshold).LastOrDefault();
            if (next is { } raised) takedown[worst] = Clamp(raised);
            else
            {
                takedown.Remove(worst);
                notes[worst] = $"{worst} dropped from takedown: with the other classes it kept the policy under precision {settings.TargetPrecision:0.###}";
            }
        }

        var review = basePolicy.Review.Where(r => !unsafeClasses.Contains(r.Key)).ToDictionary(r => r.Key, r => r.Value);
        foreach (var c in unsafeClasses)
        {
            // A band no more precise than the share of positives would flag at random as well: not proposed.
            double baseRate = (double)sweeps[c].Positives / images.Count;
            if (sweeps[c].ThresholdFor(Math.Max(settings.ReviewPrecision, baseRate + 1e-9)) is not { } point) continue;
            float r = Clamp(point.Threshold);
            if (!takedown.TryGetValue(c, out var t) || r < t) review[c] = r;
        }
        // A kept review threshold for a non-unsafe class must stay at or below any new takedown of that class.
        foreach (var (c, r) in review.ToList())
            if (takedown.TryGetValue(c, out var t) && r > t) review[c] = t;

        var proposed = basePolicy with
        {
            Version = settings.ProposedVersion ?? $"{basePolicy.Version}+eval",
            Takedown = takedown,
            Review = review,
        };
        var errors = proposed.Validate();
        if (errors.Count > 0) throw new InvalidOperationException($"proposed policy is invalid: {string.Join("; ", errors)}");
        var choices = unsafeClasses.Select(c => new ThresholdChoice(c, takedown.TryGetValue(c, out var t) ? t : null,
            review.TryGetValue(c, out var r) ? r : null, notes.GetValueOrDefault(c, ""))).ToList();
        return (proposed, choices);
    }

    // Policy thresholds live in (0, 1].
    private static float Clamp(float threshold) => Math.Clamp(threshold, 1e-6f, 1f);

    private static float Score(ScoredImage image, string label) => image.Scores.TryGetValue(label, out var s) ? s : 0f;
}
