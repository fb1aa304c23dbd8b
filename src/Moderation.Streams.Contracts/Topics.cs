namespace Moderation.Streams.Contracts;

/// <summary>Default topic names and DLQ header names fixed by the contract (all topics configurable).</summary>
public static class Topics
{
    public const string Uploads = "uploads";
    public const string Takedown = "moderation.decisions.takedown";
    public const string Review = "moderation.decisions.review";
    public const string Allow = "moderation.decisions.allow";
    public const string Dlq = "moderation.dlq";

    /// <summary>Would-be decisions of the policy's shadow model: published and counted, never acted on.</summary>
    public const string Shadow = "moderation.decisions.shadow";

    /// <summary>Reviewers' verdicts (key <c>content_id</c>), published by the review console (see DESIGN.md, Human review).</summary>
    public const string Reviews = "moderation.reviews";

    /// <summary>Every topic the contract names, in a stable order.</summary>
    public static IReadOnlyList<string> All { get; } = [Uploads, Takedown, Review, Allow, Dlq, Shadow, Reviews];

    /// <summary>Where an upload's one outcome lands: a decision topic or the DLQ.</summary>
    public static IReadOnlyList<string> Outcomes { get; } = [Takedown, Review, Allow, Dlq];
}
