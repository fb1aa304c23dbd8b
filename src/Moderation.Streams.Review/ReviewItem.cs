using Moderation.Streams.Contracts;

namespace Moderation.Streams.Review;

/// <summary>A queued item: the machine decision that sent it to review, when it was queued and how urgent it is.</summary>
public sealed record ReviewItem
{
    public required string ContentId { get; init; }
    public required DecisionEvent Decision { get; init; }

    /// <summary>The machine decision's time: a queue rebuilt from the topic keeps every item's age.</summary>
    public required DateTimeOffset QueuedAt { get; init; }

    /// <summary>Urgency from the decision alone (<see cref="ReviewPriority"/>), higher first; escalation adds to it.</summary>
    public double Priority { get; init; }

    public bool Escalated { get; init; }
    public string? EscalatedBy { get; init; }
    public string? EscalationNote { get; init; }

    /// <summary>What the console learnt of the upload itself (read back from its record on the uploads topic), or null.</summary>
    public UploadDetails? Upload { get; init; }
}
