using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Kafka;

/// <summary>A record the pipeline wants published as the outcome of one upload.</summary>
public sealed record OutboundMessage(string Topic, byte[]? Key, byte[] Value, Headers Headers)
{
    /// <summary>A record beside the upload's outcome that live screening must never wait or stop for (the shadow model's
    /// would-be decision): the upload finishes without its acknowledgement, and a failure to deliver it (a missing topic,
    /// an ACL) is counted and dropped, never fatal.</summary>
    public bool Optional { get; init; }
}

/// <summary>
/// The contract's DLQ record: the original key and bytes, plus the worker's own headers (error code and message,
/// source topic, partition and offset). Whatever the upload carries, the record fits a byte budget below the
/// producer's <c>message.max.bytes</c>, so no single upload can make its DLQ record unpublishable and stall the
/// partition: the upload's headers move under <see cref="OriginalHeaderPrefix"/> (so none can pose as the worker's)
/// and are dropped when they do not fit; an oversized value or key is cut, and headers say so.
/// </summary>
public static class DeadLetter
{
    /// <summary>Original bytes larger than this are cut to it in the DLQ record (header <see cref="TruncatedHeader"/>
    /// carries the original size): a record the broker refuses (1 MB by default) would stall the partition.</summary>
    public const int DefaultMaxValueBytes = 900_000;

    /// <summary>Keys longer than this (content ids are at most 128 characters) are cut to it
    /// (header <see cref="KeyTruncatedHeader"/> carries the original size).</summary>
    public const int MaxKeyBytes = 1024;

    /// <summary>The error message header is escaped (<see cref="SafeText"/>) and cut to this many characters.</summary>
    public const int MaxMessageChars = 1000;

    /// <summary>What librdkafka counts for a record besides key, value and headers, with room to spare
    /// (its own worst case, <c>RD_KAFKAP_MESSAGE_V2_MAX_OVERHEAD</c>, is 31 bytes).</summary>
    public const int RecordOverheadBytes = 1024;

    public const string TruncatedHeader = "moderation.dlq.truncated";
    public const string KeyTruncatedHeader = "moderation.dlq.key.truncated";

    /// <summary>How many of the upload's headers were left out because they did not fit the budget.</summary>
    public const string HeadersDroppedHeader = "moderation.dlq.headers.dropped";

    /// <summary>Present (value <c>1</c>) on a stub: the DLQ record that stands in for an outcome the broker refused.</summary>
    public const string StubHeader = "moderation.dlq.stub";

    /// <summary>The upload's own headers are kept under this prefix: <c>moderation.original.traceparent</c>.</summary>
    public const string OriginalHeaderPrefix = "moderation.original.";

    /// <summary>Longest upload header name kept (escaped) after the prefix.</summary>
    public const int MaxOriginalHeaderNameChars = 200;

    /// <summary>The contract's DLQ record for <paramref name="source"/>, at most <paramref name="maxRecordBytes"/> bytes
    /// (key + value + headers, as librdkafka counts them, plus <see cref="RecordOverheadBytes"/>).</summary>
    public static OutboundMessage Create(string dlqTopic, ConsumeResult<byte[]?, byte[]?> source, string code, string message,
        int maxValueBytes = DefaultMaxValueBytes, int maxRecordBytes = KafkaOptions.DefaultDlqMaxRecordBytes)
    {
        var headers = ContractHeaders(source.TopicPartitionOffset, code, message);
        var (key, keyCut) = CapKey(source.Message.Key);
        if (keyCut is { } keySize) headers.Add(KeyTruncatedHeader, Ascii(keySize));

        var value = source.Message.Value ?? [];
        // The value comes before the upload's headers: it is what the contract promises.
        long fixedBytes = RecordOverheadBytes + (key?.Length ?? 0) + SizeOf(headers) + HeaderSize(TruncatedHeader, 10) + HeaderSize(HeadersDroppedHeader, 10);
        long valueRoom = Math.Max(0, Math.Min(maxValueBytes, maxRecordBytes - fixedBytes));
        if (value.Length > valueRoom)
        {
            headers.Add(TruncatedHeader, Ascii(value.Length));
            value = value[..(int)valueRoom];
        }

        long room = maxRecordBytes - fixedBytes - value.Length;
        int dropped = 0;
        if (source.Message.Headers is { } original)
        {
            foreach (var h in original)
            {
                string name = OriginalHeaderPrefix + SafeText.Escape(h.Key, MaxOriginalHeaderNameChars);
                var bytes = h.GetValueBytes();
                long size = HeaderSize(name, bytes?.Length ?? 0);
                if (size > room)
                {
                    dropped++;
                    continue;
                }
                headers.Add(name, bytes);
                room -= size;
            }
        }
        if (dropped > 0) headers.Add(HeadersDroppedHeader, Ascii(dropped));
        return new OutboundMessage(dlqTopic, key, value, headers);
    }

    /// <summary>The contract's DLQ record for <paramref name="source"/> within the configured budget (<see cref="KafkaOptions.DlqRecordBudget"/>).</summary>
    public static OutboundMessage Create(KafkaOptions options, ConsumeResult<byte[]?, byte[]?> source, string code, string message) =>
        Create(options.DlqTopic, source, code, message, DefaultMaxValueBytes, options.DlqRecordBudget);

    /// <summary>The smallest DLQ record for the upload at <paramref name="source"/>: the contract's headers and
    /// <see cref="StubHeader"/>, the (capped) key, no value. Published when the broker refused the upload's real outcome,
    /// so its offset can commit.</summary>
    public static OutboundMessage Stub(string dlqTopic, TopicPartitionOffset source, byte[]? key, string code, string message)
    {
        var headers = ContractHeaders(source, code, message);
        var (cappedKey, keyCut) = CapKey(key);
        if (keyCut is { } keySize) headers.Add(KeyTruncatedHeader, Ascii(keySize));
        headers.Add(StubHeader, "1"u8.ToArray());
        return new OutboundMessage(dlqTopic, cappedKey, [], headers);
    }

    /// <summary>Key + value + headers as librdkafka counts them against <c>message.max.bytes</c>, plus
    /// <see cref="RecordOverheadBytes"/>: what <see cref="Create"/> keeps under its budget.</summary>
    public static long SizeOf(OutboundMessage message) =>
        RecordOverheadBytes + (message.Key?.Length ?? 0) + message.Value.Length + SizeOf(message.Headers);

    private static long SizeOf(Headers headers)
    {
        long size = 0;
        foreach (var h in headers) size += HeaderSize(h.Key, h.GetValueBytes()?.Length ?? 0);
        return size;
    }

    // Name and value with their varint lengths (at most 5 bytes each).
    private static long HeaderSize(string name, int valueBytes) => Encoding.UTF8.GetByteCount(name) + valueBytes + 10;

    private static Headers ContractHeaders(TopicPartitionOffset source, string code, string message)
    {
        var headers = new Headers
        {
            { DlqHeaders.ErrorCode, Encoding.UTF8.GetBytes(SafeText.Escape(code, 64)) },
            { DlqHeaders.ErrorMessage, Encoding.UTF8.GetBytes(SafeText.Escape(message, MaxMessageChars)) },
            { DlqHeaders.SourceTopic, Encoding.UTF8.GetBytes(source.Topic) },
            { DlqHeaders.SourcePartition, Ascii(source.Partition.Value) },
            { DlqHeaders.SourceOffset, Ascii(source.Offset.Value) },
        };
        return headers;
    }

    private static (byte[]? Key, int? OriginalSize) CapKey(byte[]? key) =>
        key is { Length: > MaxKeyBytes } ? (key[..MaxKeyBytes], key.Length) : (key, null);

    private static byte[] Ascii(long value) => Encoding.ASCII.GetBytes(value.ToString(CultureInfo.InvariantCulture));
}

/// <summary>Turns one consumed upload into the records to publish. Bad input is an outcome (a DLQ record),
/// not an exception; an exception means the service itself failed for this upload.</summary>
public interface IUploadHandler
{
    Task<IReadOnlyList<OutboundMessage>> HandleAsync(ConsumeResult<byte[]?, byte[]?> upload, CancellationToken ct);

    /// <summary>The outcome of an upload whose <see cref="HandleAsync"/> threw (the service failed, not the input), so the
    /// handler's policy decides it (a fail-closed review, or the DLQ); null for the consume loop's default, a DLQ record
    /// with code <c>internal</c>. Must not throw (if it does, the default is used).</summary>
    IReadOnlyList<OutboundMessage>? Unhandled(ConsumeResult<byte[]?, byte[]?> upload, Exception error) => null;
}
