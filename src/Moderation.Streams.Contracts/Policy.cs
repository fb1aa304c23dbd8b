using System.Text.Json;
using System.Text.Json.Serialization;

namespace Moderation.Streams.Contracts;

/// <summary>
/// A versioned screening policy: per-class score thresholds for takedown and for human review (the review
/// band sits below the takedown threshold), and what to do with content that could not be screened.
/// Loaded from JSON (<c>--policy FILE</c>) and validated on load.
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

    /// <summary>The default policy: porn/hentai ≥ 0.90 takedown; porn/hentai ≥ 0.60 or sexy ≥ 0.80 review.</summary>
    public static Policy Default { get; } = new()
    {
        Version = "2026-11-25.1",
        Takedown = new Dictionary<string, float> { ["porn"] = 0.90f, ["hentai"] = 0.90f },
        Review = new Dictionary<string, float> { ["porn"] = 0.60f, ["hentai"] = 0.60f, ["sexy"] = 0.80f },
    };

    public static readonly IReadOnlyList<string> KnownLabels = ["drawing", "hentai", "neutral", "porn", "sexy"];

    public static Policy Load(string path)
    {
        Policy? policy;
        try
        {
            policy = JsonSerializer.Deserialize<Policy>(File.ReadAllBytes(path), FileOptions);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: invalid policy JSON at line {e.LineNumber + 1}: {e.Message}", e);
        }
        if (policy is null) throw new InvalidDataException($"{path}: empty policy");
        var errors = policy.Validate();
        if (errors.Count > 0) throw new InvalidDataException($"{path}: invalid policy: {string.Join("; ", errors)}");
        return policy;
    }

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(Version)) errors.Add("version is required");
        foreach (var (name, table) in new[] { ("takedown", Takedown), ("review", Review) })
        {
            foreach (var (label, threshold) in table)
            {
                if (!KnownLabels.Contains(label)) errors.Add($"{name}.{label}: unknown class (known: {string.Join(", ", KnownLabels)})");
                if (!(threshold is > 0f and <= 1f)) errors.Add($"{name}.{label}: threshold {threshold} must be in (0, 1]");
            }
        }
        foreach (var (label, review) in Review)
        {
            if (Takedown.TryGetValue(label, out var takedown) && review > takedown)
                errors.Add($"review.{label} ({review}) is above takedown.{label} ({takedown})");
        }
        if (Unscreenable is not (Actions.Review or "dlq")) errors.Add("unscreenable must be 'review' or 'dlq' (never allow)");
        return errors;
    }

    /// <summary>Applies the thresholds to a model's scores: the most severe action any class reaches.</summary>
    public (string Action, IReadOnlyList<DecisionReason> Reasons) Decide(string model, IReadOnlyDictionary<string, float> scores)
    {
        var reasons = new List<DecisionReason>();
        string action = Actions.Allow;
        foreach (var (tableAction, table) in new[] { (Actions.Takedown, Takedown), (Actions.Review, Review) })
        {
            foreach (var (label, threshold) in table)
            {
                if (!scores.TryGetValue(label, out var score) || score < threshold) continue;
                if (Actions.Severity(tableAction) < Actions.Severity(action)) continue;
                if (Actions.Severity(tableAction) > Actions.Severity(action)) reasons.Clear();
                action = tableAction;
                reasons.Add(new DecisionReason { Source = "model", Model = model, Label = label, Score = score, Threshold = threshold });
            }
        }
        return (action, reasons);
    }

    private static readonly JsonSerializerOptions FileOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
    };
}
