using System.Text.Json;
using System.Text.Json.Serialization;

namespace Moderation.Streams.Contracts;

/// <summary>
/// A versioned screening policy, as data: per-class score thresholds for takedown and for human review (the
/// review band sits below the takedown threshold), per-surface overrides of those thresholds, what a bank match
/// does, what to do with content that could not be screened, and optionally which models score (an ensemble)
/// and which candidate model runs in the shadow. Loaded from JSON (<c>--policy FILE</c>), validated on load
/// with line-precise messages (<see cref="PolicyFile"/>), hot-reloaded by the worker.
/// </summary>
public sealed record Policy
{
    public required string Version { get; init; }

    /// <summary>Class label → score at or above which the upload is taken down.</summary>
    public IReadOnlyDictionary<string, float> Takedown { get; init; } = new Dictionary<string, float>();

    /// <summary>Class label → score at or above which the upload goes to human review.</summary>
    public IReadOnlyDictionary<string, float> Review { get; init; } = new Dictionary<string, float>();

    /// <summary>Action for uploads that could not be screened (never <c>allow</c>): <c>review</c> or <c>dlq</c>.</summary>
    public string Unscreenable { get; init; } = Actions.Review;

    /// <summary>Surface (the upload's optional <c>surface</c> field, e.g. <c>story</c>) → thresholds that replace the
    /// base ones class by class on that surface; classes an override does not name keep the base thresholds.</summary>
    public IReadOnlyDictionary<string, PolicyOverride> Surfaces { get; init; } = new Dictionary<string, PolicyOverride>();

    /// <summary>Bank name → what a match does (<c>takedown</c>, <c>review</c> or <c>suppress</c>, with the bank's own
    /// <c>max_distance</c> and <c>min_quality</c>); <c>*</c> for every other bank. Without a rule a match is a takedown.</summary>
    public IReadOnlyDictionary<string, PolicyBankRule> Banks { get; init; } = new Dictionary<string, PolicyBankRule>();

    /// <summary>Text category → action of a text match in a caption or a text item (<c>takedown</c> or <c>review</c>);
    /// <c>*</c> for every other category. Without a rule a text match is a review.</summary>
    public IReadOnlyDictionary<string, string> Text { get; init; } = new Dictionary<string, string>();

    /// <summary>Rules on the uploader's history and on campaigns (the same picture from many uploaders); null = none.</summary>
    public PolicyUploaders? Uploaders { get; init; }

    /// <summary>Flood quarantine of takedown-bank entries that match too many uploads; null = none.</summary>
    public PolicyBankFloods? BankFloods { get; init; }

    /// <summary>Several models scoring every image, combined class by class; null = the worker's one model.</summary>
    public PolicyEnsemble? Ensemble { get; init; }

    /// <summary>A candidate model whose would-be decisions are published and counted, never acted on.</summary>
    public PolicyShadow? Shadow { get; init; }

    /// <summary>The default policy: porn/hentai ≥ 0.90 takedown; porn/hentai ≥ 0.60 or sexy ≥ 0.80 review.</summary>
    public static Policy Default { get; } = new()
    {
        Version = "2026-11-25.1",
        Takedown = new Dictionary<string, float> { ["porn"] = 0.90f, ["hentai"] = 0.90f },
        Review = new Dictionary<string, float> { ["porn"] = 0.60f, ["hentai"] = 0.60f, ["sexy"] = 0.80f },
    };

    public static readonly IReadOnlyList<string> KnownLabels = ["drawing", "hentai", "neutral", "porn", "sexy"];

    /// <summary><see cref="Unscreenable"/>'s other value: an upload that could not be screened goes to the DLQ.</summary>
    public const string DeadLetter = "dlq";

    /// <summary>Wildcard key of <see cref="Banks"/>.</summary>
    public const string AnyBank = "*";

    /// <summary>Reads and validates a policy file.</summary>
    /// <param name="knownModels">Model names the ensemble and shadow may name; null = not checked.</param>
    /// <exception cref="InvalidDataException">Unreadable, malformed or invalid: the message names the file, the line and the field.</exception>
    public static Policy Load(string path, IReadOnlyCollection<string>? knownModels = null) =>
        PolicyFile.Parse(PolicyFile.ReadFile(path), path, knownModels);

    /// <summary>Every rule the policy breaks, each as <c>field: problem</c>; empty when valid.</summary>
    public IReadOnlyList<string> Validate(IReadOnlyCollection<string>? knownModels = null) =>
        [.. ValidateFields(knownModels).Select(e => $"{e.Field}: {e.Message}")];

    /// <summary>Every rule the policy breaks, with the field path (<c>surfaces.story.review.sexy</c>) so a loader can name the line.</summary>
    public IReadOnlyList<(string Field, string Message)> ValidateFields(IReadOnlyCollection<string>? knownModels = null)
    {
        var errors = new List<(string, string)>();
        if (string.IsNullOrWhiteSpace(Version)) errors.Add(("version", "version is required"));
        CheckThresholds(errors, "", Takedown, Review, Takedown, Review);
        foreach (var (surface, o) in Surfaces)
        {
            if (string.IsNullOrWhiteSpace(surface)) errors.Add(("surfaces", "a surface name must not be empty"));
            if (o is null) { errors.Add(($"surfaces.{surface}", "must be an object")); continue; }
            CheckThresholds(errors, $"surfaces.{surface}.", o.Takedown ?? Empty, o.Review ?? Empty, Merge(Takedown, o.Takedown), Merge(Review, o.Review));
        }
        foreach (var (bank, rule) in Banks)
        {
            if (rule is null) errors.Add(($"banks.{bank}", "must be an action or an object"));
            else rule.Validate(errors, $"banks.{bank}");
        }
        foreach (var (category, action) in Text)
        {
            if (string.IsNullOrWhiteSpace(category)) errors.Add(("text", "a category name must not be empty"));
            if (action is not (Actions.Takedown or Actions.Review)) errors.Add(($"text.{category}", $"'{action}' must be 'takedown' or 'review'"));
        }
        if (Unscreenable is not (Actions.Review or DeadLetter)) errors.Add(("unscreenable", "unscreenable must be 'review' or 'dlq' (never allow)"));
        Uploaders?.Validate(errors);
        BankFloods?.Validate(errors);
        Ensemble?.Validate(errors, knownModels);
        if (Shadow is { } shadow)
        {
            if (string.IsNullOrWhiteSpace(shadow.Model)) errors.Add(("shadow.model", "a shadow needs a model"));
            else if (knownModels is not null && !knownModels.Contains(shadow.Model))
                errors.Add(("shadow.model", $"unknown model '{shadow.Model}' (known: {string.Join(", ", knownModels)})"));
            var (t, r) = (shadow.Takedown ?? Takedown, shadow.Review ?? Review);
            CheckThresholds(errors, "shadow.", shadow.Takedown ?? Empty, shadow.Review ?? Empty, t, r);
        }
        return errors;
    }

    private static readonly IReadOnlyDictionary<string, float> Empty = new Dictionary<string, float>();

    private static void CheckThresholds(List<(string, string)> errors, string prefix,
        IReadOnlyDictionary<string, float> takedown, IReadOnlyDictionary<string, float> review,
        IReadOnlyDictionary<string, float> effectiveTakedown, IReadOnlyDictionary<string, float> effectiveReview)
    {
        foreach (var (name, table) in new[] { ("takedown", takedown), ("review", review) })
        {
            foreach (var (label, threshold) in table)
            {
                if (!KnownLabels.Contains(label)) errors.Add(($"{prefix}{name}.{label}", $"unknown class (known: {string.Join(", ", KnownLabels)})"));
                if (!(threshold is > 0f and <= 1f)) errors.Add(($"{prefix}{name}.{label}", $"threshold {threshold} must be in (0, 1]"));
            }
        }
        foreach (var (label, r) in effectiveReview)
        {
            if (effectiveTakedown.TryGetValue(label, out var t) && r > t)
            {
                string field = review.ContainsKey(label) ? $"{prefix}review.{label}" : $"{prefix}takedown.{label}";
                errors.Add((field, $"review.{label} ({r}) is above takedown.{label} ({t})"));
            }
        }
    }

    private static IReadOnlyDictionary<string, float> Merge(IReadOnlyDictionary<string, float> base_, IReadOnlyDictionary<string, float>? over)
    {
        if (over is null || over.Count == 0) return base_;
        var merged = new Dictionary<string, float>(base_);
        foreach (var (label, threshold) in over) merged[label] = threshold;
        return merged;
    }

    /// <summary>Applies the thresholds to a model's scores: the most severe action any class reaches.</summary>
    /// <param name="surface">The upload's surface: its override (if the policy has one) replaces base thresholds class by class.</param>
    public (string Action, IReadOnlyList<DecisionReason> Reasons) ApplyThresholds(string model, IReadOnlyDictionary<string, float> scores, string? surface = null)
    {
        var over = surface is not null && Surfaces.TryGetValue(surface, out var o) ? o : null;
        var reasons = new List<DecisionReason>();
        string action = Actions.Allow;
        Apply(Actions.Takedown, over?.Takedown, Takedown);
        Apply(Actions.Review, over?.Review, Review);
        return (action, reasons);

        void Apply(string tableAction, IReadOnlyDictionary<string, float>? overrides, IReadOnlyDictionary<string, float> table)
        {
            if (overrides is not null)
                foreach (var (label, threshold) in overrides) Check(tableAction, label, threshold);
            foreach (var (label, threshold) in table)
                if (overrides is null || !overrides.ContainsKey(label)) Check(tableAction, label, threshold);
        }

        void Check(string tableAction, string label, float threshold)
        {
            if (!scores.TryGetValue(label, out var score) || score < threshold) return;
            if (Actions.Severity(tableAction) < Actions.Severity(action)) return;
            if (Actions.Severity(tableAction) > Actions.Severity(action)) reasons.Clear();
            action = tableAction;
            reasons.Add(new DecisionReason { Source = "model", Model = model, Label = label, Score = score, Threshold = threshold });
        }
    }

    /// <summary>What a match in <paramref name="bank"/> does: its rule's action, else the <c>*</c> rule's, else takedown.</summary>
    public string BankAction(string bank) => BankRule(bank).Action;

    /// <summary>The rule of <paramref name="bank"/>: its own, else the <c>*</c> rule, else <see cref="PolicyBankRule.Default"/>.</summary>
    public PolicyBankRule BankRule(string bank) =>
        Banks.TryGetValue(bank, out var rule) || Banks.TryGetValue(AnyBank, out rule) ? rule : PolicyBankRule.Default;

    /// <summary>What a text match of <paramref name="category"/> does: its rule, else the <c>*</c> rule, else review.</summary>
    public string TextAction(string category) =>
        Text.TryGetValue(category, out var action) || Text.TryGetValue(AnyBank, out action) ? action : Actions.Review;

    /// <summary>
    /// The version a decision for <paramref name="surface"/> is cached under: the policy version, plus the surface
    /// when this policy overrides it (two surfaces may decide the same image differently).
    /// </summary>
    public string CacheVersion(string? surface) =>
        surface is not null && Surfaces.ContainsKey(surface) ? $"{Version}#{surface}" : Version;

    /// <summary>The policy the shadow model is judged by: the live one with the shadow's own thresholds, if it has any.</summary>
    public Policy ForShadow()
    {
        if (Shadow is not { } shadow || (shadow.Takedown is null && shadow.Review is null)) return this;
        return this with { Version = $"{Version}+shadow", Takedown = shadow.Takedown ?? Takedown, Review = shadow.Review ?? Review, Shadow = null };
    }

    /// <summary>The policy a match left out by a bank's <c>enabled</c> share would have been judged by: every bank acting on
    /// every upload, under the version <c>V+trial</c>.</summary>
    public Policy ForBankTrial() => this with
    {
        Version = $"{Version}+trial",
        Banks = Banks.ToDictionary(kv => kv.Key, kv => kv.Value with { Enabled = 1.0 }, StringComparer.Ordinal),
    };

    /// <summary>The models this policy needs loaded: ensemble members (or <paramref name="liveModel"/>), then the shadow.
    /// A running worker can only switch to a policy that needs the same ones.</summary>
    public string ModelSet(string liveModel) =>
        $"live={string.Join("+", Ensemble?.Models ?? [liveModel])};shadow={Shadow?.Model ?? "-"}";

    internal static readonly JsonSerializerOptions FileOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // "v1+eval", not "v1\u002Beval"
    };
}
