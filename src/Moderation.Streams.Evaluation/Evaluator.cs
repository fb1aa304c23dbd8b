using Moderation.Streams.Contracts;

namespace Moderation.Streams.Evaluation;

/// <summary>
/// Measures a model and a policy on labelled scores. Unsafe means a class the base policy takes down (in binary
/// sets: the <c>unsafe</c> label). Five-class sets get a confusion matrix of the top class and one sweep per
/// class (that class against the rest); binary sets a safe/unsafe matrix (top class unsafe or not) and one sweep
/// per unsafe class's score against the unsafe label. The proposal picks, per unsafe class, the lowest takedown
/// threshold whose precision for "unsafe" reaches the target, then — because any class over its threshold takes
/// down — raises the threshold of the class causing most false takedowns until the whole policy meets the target.
/// A class the set has no labelled example of keeps the base policy's thresholds, and review bands are raised until
/// at most <see cref="EvaluationSettings.MaxReviewShare"/> of the set goes to review; what still breaks either rule
/// is listed in <see cref="EvaluationResult.Problems"/>.
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
        var outcome = Outcome(images, IsUnsafe, proposed, settings.Model);
        return new EvaluationResult(mode, images, unsafeClasses, confusion, sweeps, atTarget, basePolicy,
            Outcome(images, IsUnsafe, basePolicy, settings.Model), proposed, outcome, choices, settings)
        {
            Problems = Problems(images, mode, unsafeClasses, basePolicy, proposed, outcome, settings),
        };
    }

    /// <summary>Whether the set can say anything about <paramref name="label"/>: five-class sets need an image labelled
    /// with it; binary sets know only "unsafe", so they speak for the takedown classes when they hold an unsafe image,
    /// and never for the other classes.</summary>
    public static bool HasExamples(IReadOnlyList<ScoredImage> images, LabelMode mode, IReadOnlyList<string> unsafeClasses, string label) =>
        mode == LabelMode.Classes
            ? images.Any(i => i.Label == label)
            : unsafeClasses.Contains(label) && images.Any(i => i.Label == LabelledSet.Unsafe);

    /// <summary>Checked on the finished proposal, apart from how it was made: no class without labelled examples loses
    /// or raises a takedown or review threshold of the base policy, and the review share stays under the cap.</summary>
    private static List<string> Problems(IReadOnlyList<ScoredImage> images, LabelMode mode, IReadOnlyList<string> unsafeClasses,
        Policy basePolicy, Policy proposed, PolicyOutcome outcome, EvaluationSettings settings)
    {
        var problems = new List<string>();
        foreach (var (band, before, after) in new[] { ("takedown", basePolicy.Takedown, proposed.Takedown), ("review", basePolicy.Review, proposed.Review) })
            foreach (var (label, threshold) in before.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                if (HasExamples(images, mode, unsafeClasses, label)) continue;
                if (!after.TryGetValue(label, out var now))
                    problems.Add($"{label}: the set has no labelled {label} example, yet the proposal drops its {band} threshold {threshold:0.######}");
                else if (now > threshold)
                    problems.Add($"{label}: the set has no labelled {label} example, yet the proposal raises its {band} threshold from {threshold:0.######} to {now:0.######}");
            }
        double share = (double)outcome.Reviews / images.Count;
        if (share > settings.MaxReviewShare)
            problems.Add($"the proposal sends {outcome.Reviews} of {images.Count} images ({share:P0}) to review, above the cap of {settings.MaxReviewShare:P0} (--max-review-share)");
        return problems;
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
        // A class the set has no labelled example of says nothing about its threshold: the base policy's stays, untouched.
        var kept = unsafeClasses.Where(c => !HasExamples(images, mode, unsafeClasses, c)).ToHashSet();
        foreach (var c in unsafeClasses)
        {
            if (kept.Contains(c))
            {
                takedown[c] = basePolicy.Takedown[c];
                notes[c] = $"no labelled {c} example in the set: the current thresholds are kept";
            }
            else if (sweeps[c].ThresholdFor(settings.TargetPrecision) is { } point) takedown[c] = Clamp(point.Threshold);
            else notes[c] = $"no {c} threshold reaches precision {settings.TargetPrecision:0.###} on this set: not taken down";
        }

        // Classes add up: any class over its threshold takes down. Raise the worst offender until the whole policy meets
        // the target; kept classes are not the set's to move.
        while (takedown.Keys.Any(c => !kept.Contains(c)))
        {
            var falseBy = new Dictionary<string, int>();
            int taken = 0, right = 0;
            for (int i = 0; i < images.Count; i++)
            {
                var over = takedown.Where(t => Score(images[i], t.Key) >= t.Value).Select(t => t.Key).ToList();
                if (over.Count == 0) continue;
                taken++;
                if (truth[i]) right++;
                else foreach (var c in over.Where(c => !kept.Contains(c))) falseBy[c] = falseBy.GetValueOrDefault(c) + 1;
            }
            if (taken == 0 || (double)right / taken >= settings.TargetPrecision || falseBy.Count == 0) break;
            var worst = falseBy.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).First().Key;
            var next = sweeps[worst].Points.Where(p => p.Threshold > takedown[worst]).Select(p => (float?)p.Threshold).LastOrDefault();
            if (next is { } raised) takedown[worst] = Clamp(raised);
            else
            {
                takedown.Remove(worst);
                notes[worst] = $"{worst} dropped from takedown: with the other classes it kept the policy under precision {settings.TargetPrecision:0.###}";
            }
        }

        var review = basePolicy.Review.Where(r => !unsafeClasses.Contains(r.Key) || kept.Contains(r.Key)).ToDictionary(r => r.Key, r => r.Value);
        var fromSet = new HashSet<string>();
        foreach (var c in unsafeClasses.Where(c => !kept.Contains(c)))
        {
            // A band no more precise than the share of positives would flag at random as well: not proposed.
            double baseRate = (double)sweeps[c].Positives / images.Count;
            if (sweeps[c].ThresholdFor(Math.Max(settings.ReviewPrecision, baseRate + 1e-9)) is not { } point) continue;
            float r = Clamp(point.Threshold);
            if (!takedown.TryGetValue(c, out var t) || r < t)
            {
                review[c] = r;
                fromSet.Add(c);
            }
        }
        // A kept review threshold for a non-unsafe class must stay at or below any new takedown of that class.
        foreach (var (c, r) in review.ToList())
            if (takedown.TryGetValue(c, out var t) && r > t) review[c] = t;

        // Review is people's time: raise the set's own review bands (never a kept one) until the share reviewed is
        // under the cap, the band catching most reviews first; a band that cannot go higher below its takedown goes.
        int Reviewed(Func<ScoredImage, bool>? by = null) => images.Count(i => (by?.Invoke(i) ?? true) &&
            (basePolicy with { Takedown = takedown, Review = review }).ApplyThresholds(settings.Model, i.Scores).Action == Actions.Review);
        while (fromSet.Count > 0 && Reviewed() > settings.MaxReviewShare * images.Count)
        {
            var widest = fromSet.OrderByDescending(c => Reviewed(i => Score(i, c) >= review[c])).ThenBy(c => c, StringComparer.Ordinal).First();
            var ceiling = takedown.TryGetValue(widest, out var t) ? t : float.PositiveInfinity;
            var next = sweeps[widest].Points.Where(p => p.Threshold > review[widest] && p.Threshold < ceiling).Select(p => (float?)p.Threshold).LastOrDefault();
            if (next is { } raised)
            {
                review[widest] = Clamp(raised);
                notes[widest] = $"review band raised to keep review within {settings.MaxReviewShare:P0} of the set";
            }
            else
            {
                review.Remove(widest);
                fromSet.Remove(widest);
                notes[widest] = $"no review band: none keeps review within {settings.MaxReviewShare:P0} of the set";
            }
        }

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
