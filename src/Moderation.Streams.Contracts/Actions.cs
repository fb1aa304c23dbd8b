namespace Moderation.Streams.Contracts;

public static class Actions
{
    public const string Takedown = "takedown";
    public const string Review = "review";
    public const string Allow = "allow";

    public static IReadOnlyList<string> All { get; } = [Takedown, Review, Allow];

    /// <summary>Severity order used to combine reasons: takedown &gt; review &gt; allow.</summary>
    public static int Severity(string action) => action switch
    {
        Takedown => 2,
        Review => 1,
        Allow => 0,
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "unknown action"),
    };

    /// <summary>The action when a signal demands human eyes (a review bank's match, media screened only in part):
    /// a takedown stays a takedown, anything else becomes a review.</summary>
    public static string AtLeastReview(string action) => Severity(action) > Severity(Review) ? action : Review;
}
