namespace Moderation.Streams.Contracts;

/// <summary>The policy's <c>uploaders</c> section: rules on the uploader's history and on the same picture arriving
/// from many uploaders. Each rule only raises an action; none is cached with the content's decision.</summary>
public sealed record PolicyUploaders
{
    /// <summary>Takedowns of the uploader's items in the window; at <see cref="PolicyCountRule.ReviewAt"/> the uploader's
    /// next uploads go to review.</summary>
    public PolicyCountRule? Strikes { get; init; }

    /// <summary>The uploader's uploads in the window (this one included); at <see cref="PolicyCountRule.ReviewAt"/>, review.</summary>
    public PolicyCountRule? Velocity { get; init; }

    /// <summary>The same picture (PDQ within <see cref="PolicyCampaignRule.MaxDistance"/>) from
    /// <see cref="PolicyCampaignRule.DistinctUploaders"/> uploaders in the window: the rule's action.</summary>
    public PolicyCampaignRule? Campaigns { get; init; }

    internal void Validate(List<(string, string)> errors)
    {
        Strikes?.Validate(errors, "uploaders.strikes");
        Velocity?.Validate(errors, "uploaders.velocity");
        Campaigns?.Validate(errors, "uploaders.campaigns");
    }

    internal static void CheckWindow(List<(string, string)> errors, string field, string? window)
    {
        if (PolicyWindow.TryParse(window) is null)
            errors.Add(($"{field}.window", $"'{window}' is not a window: a whole number and s, m, h or d, from 1s to 365d (e.g. 1m, 7d)"));
    }
}

/// <summary>A count over a window that sends the upload to review at a number.</summary>
public sealed record PolicyCountRule
{
    /// <summary>The most a count rule may wait for: the shared counters keep this many members per uploader.</summary>
    public const int MaxReviewAt = 10_000;

    public string Window { get; init; } = "";
    public int ReviewAt { get; init; }

    /// <summary>The window's length (a validated policy always has one).</summary>
    public TimeSpan Span => PolicyWindow.TryParse(Window) ?? throw new InvalidOperationException($"'{Window}' is not a window");

    internal void Validate(List<(string, string)> errors, string field)
    {
        PolicyUploaders.CheckWindow(errors, field, Window);
        if (ReviewAt is < 1 or > MaxReviewAt) errors.Add(($"{field}.review_at", $"review_at {ReviewAt} must be in 1..{MaxReviewAt}"));
    }
}

/// <summary>The campaign rule: how many distinct uploaders of one picture within the window, how near counts as the same
/// picture, and the action.</summary>
public sealed record PolicyCampaignRule
{
    public const int DefaultMaxDistance = 31;

    public string Window { get; init; } = "";
    public int DistinctUploaders { get; init; }
    public int MaxDistance { get; init; } = DefaultMaxDistance;
    public string Action { get; init; } = Actions.Review;

    /// <summary>The window's length (a validated policy always has one).</summary>
    public TimeSpan Span => PolicyWindow.TryParse(Window) ?? throw new InvalidOperationException($"'{Window}' is not a window");

    internal void Validate(List<(string, string)> errors, string field)
    {
        PolicyUploaders.CheckWindow(errors, field, Window);
        if (DistinctUploaders < 2) errors.Add(($"{field}.distinct_uploaders", $"distinct_uploaders {DistinctUploaders} must be at least 2"));
        if (MaxDistance is < 0 or > 63) errors.Add(($"{field}.max_distance", $"max_distance {MaxDistance} must be in 0..63"));
        if (Action is not (Actions.Takedown or Actions.Review)) errors.Add(($"{field}.action", $"'{Action}' must be 'takedown' or 'review'"));
    }
}
