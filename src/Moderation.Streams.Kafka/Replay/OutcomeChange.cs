namespace Moderation.Streams.Kafka.Replay;

/// <summary>A content_id whose outcome the replay changed.</summary>
public sealed record OutcomeChange(string ContentId, string Before, string After, string? BeforePolicyVersion, string? AfterPolicyVersion,
    string? BeforeModelVersion, string? AfterModelVersion, int? Partition, long? Offset)
{
    public string Transition => $"{Before}->{After}";

    /// <summary>Each side's reasons in short (<see cref="PublishedOutcome.Reason"/>).</summary>
    public string? BeforeReason { get; init; }
    public string? AfterReason { get; init; }

    /// <summary>Each side's highest class score, <c>LABEL:SCORE</c>.</summary>
    public string? BeforeScore { get; init; }
    public string? AfterScore { get; init; }

    /// <summary>Each side's matched banks.</summary>
    public string? BeforeBank { get; init; }
    public string? AfterBank { get; init; }
}
