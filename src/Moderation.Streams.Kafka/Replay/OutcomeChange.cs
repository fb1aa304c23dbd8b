namespace Moderation.Streams.Kafka.Replay;

/// <summary>A content_id whose outcome the replay changed.</summary>
public sealed record OutcomeChange(string ContentId, string Before, string After, string? BeforePolicyVersion, string? AfterPolicyVersion,
    string? BeforeModelVersion, string? AfterModelVersion, int? Partition, long? Offset)
{
    public string Transition => $"{Before}->{After}";
}
