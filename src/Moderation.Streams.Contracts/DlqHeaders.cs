namespace Moderation.Streams.Contracts;

public static class DlqHeaders
{
    public const string ErrorCode = "moderation.error.code";
    public const string ErrorMessage = "moderation.error.message";
    public const string SourceTopic = "moderation.source.topic";
    public const string SourcePartition = "moderation.source.partition";
    public const string SourceOffset = "moderation.source.offset";
}
