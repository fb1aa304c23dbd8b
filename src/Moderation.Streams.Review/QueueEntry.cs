using System.Text.Json.Serialization;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Review;

/// <summary>One element of <c>GET /api/queue</c>: the contract's <c>content_id</c>, <c>reasons</c>, <c>queued_at</c> and
/// <c>claimed_by</c> (null when free), then what else the console knows of the item.</summary>
public sealed record QueueEntry
{
    public required string ContentId { get; init; }
    public required IReadOnlyList<DecisionReason> Reasons { get; init; }
    public required DateTimeOffset QueuedAt { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? ClaimedBy { get; init; }

    public double Priority { get; init; }
    public bool Escalated { get; init; }
    public IReadOnlyDictionary<string, float>? Scores { get; init; }
    public PdqInfo? Pdq { get; init; }
    public string? PolicyVersion { get; init; }
    public string? ModelVersion { get; init; }
    public SourceInfo? Source { get; init; }
    public UploadDetails? Upload { get; init; }

    public static QueueEntry Of(ReviewItem item, string? claimedBy) => new()
    {
        ContentId = item.ContentId, Reasons = item.Decision.Reasons, QueuedAt = item.QueuedAt, ClaimedBy = claimedBy,
        Priority = item.Priority, Escalated = item.Escalated, Scores = item.Decision.Scores, Pdq = item.Decision.Pdq,
        PolicyVersion = item.Decision.PolicyVersion, ModelVersion = item.Decision.ModelVersion, Source = item.Decision.Source, Upload = item.Upload,
    };
}
