using System.Text;
using Confluent.Kafka;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Kafka;

/// <summary>A record the pipeline wants published as the outcome of one upload.</summary>
public sealed record OutboundMessage(string Topic, byte[]? Key, byte[] Value, Headers Headers);

public static class DeadLetter
{
    /// <summary>Original bytes larger than this are cut to it in the DLQ record (header <see cref="TruncatedHeader"/>
    /// carries the original size): a record the broker refuses (1 MB by default) would stall the partition.</summary>
    public const int DefaultMaxValueBytes = 900_000;

    public const string TruncatedHeader = "moderation.dlq.truncated";

    /// <summary>The contract's DLQ record: original key and bytes unchanged, plus error and source headers.</summary>
    public static OutboundMessage Create(string dlqTopic, ConsumeResult<byte[]?, byte[]?> source, string code, string message, int maxValueBytes = DefaultMaxValueBytes)
    {
        var headers = new Headers();
        if (source.Message.Headers is { } original)
            foreach (var h in original) headers.Add(h.Key, h.GetValueBytes());
        headers.Add(DlqHeaders.ErrorCode, Encoding.UTF8.GetBytes(code));
        headers.Add(DlqHeaders.ErrorMessage, Encoding.UTF8.GetBytes(message.Length > 1000 ? message[..1000] : message));
        headers.Add(DlqHeaders.SourceTopic, Encoding.UTF8.GetBytes(source.Topic));
        headers.Add(DlqHeaders.SourcePartition, Encoding.UTF8.GetBytes(source.Partition.Value.ToString()));
        headers.Add(DlqHeaders.SourceOffset, Encoding.UTF8.GetBytes(source.Offset.Value.ToString()));
        var value = source.Message.Value ?? [];
        if (value.Length > maxValueBytes)
        {
            headers.Add(TruncatedHeader, Encoding.UTF8.GetBytes(value.Length.ToString()));
            value = value[..maxValueBytes];
        }
        return new OutboundMessage(dlqTopic, source.Message.Key, value, headers);
    }
}

/// <summary>Turns one consumed upload into the records to publish. Bad input is an outcome (a DLQ record),
/// not an exception; an exception means the service itself failed for this upload.</summary>
public interface IUploadHandler
{
    Task<IReadOnlyList<OutboundMessage>> HandleAsync(ConsumeResult<byte[]?, byte[]?> upload, CancellationToken ct);
}
