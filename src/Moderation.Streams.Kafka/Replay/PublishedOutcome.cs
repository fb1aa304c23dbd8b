using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Kafka.Replay;

/// <summary>One outcome read from (or about to be written to) a decision or DLQ topic.</summary>
/// <param name="Action"><c>takedown</c>, <c>review</c>, <c>allow</c>, or <c>dlq</c>.</param>
/// <param name="Partition">Partition of the upload it decided (the decision's <c>source</c>), when known.</param>
public sealed record PublishedOutcome(string ContentId, string Action, DateTimeOffset DecidedAt, string? PolicyVersion, string? ModelVersion, int? Partition, long? Offset)
{
    public const string Dlq = "dlq";
    public const string None = "none";

    /// <summary>Reads a record of a decision topic (a DecisionEvent) or of a DLQ topic (key and source headers).</summary>
    public static PublishedOutcome? FromRecord(string topic, string dlqTopic, byte[]? key, byte[] value, Headers? headers, DateTimeOffset timestamp)
    {
        if (topic == dlqTopic)
        {
            var id = key is { Length: > 0 } ? Encoding.UTF8.GetString(key) : UploadEventParser.TryReadContentId(value);
            if (id is null) return null;
            return new PublishedOutcome(id, Dlq, timestamp, null, null, IntHeader(headers, DlqHeaders.SourcePartition), LongHeader(headers, DlqHeaders.SourceOffset));
        }
        DecisionEvent d;
        try
        {
            d = DecisionEvent.FromUtf8Json(value);
        }
        catch (JsonException)
        {
            return null;
        }
        return new PublishedOutcome(d.ContentId, d.Action, d.DecidedAt, d.PolicyVersion, d.ModelVersion, d.Source?.Partition, d.Source?.Offset);
    }

    private static string? Header(Headers? headers, string name) =>
        headers is not null && headers.TryGetLastBytes(name, out var v) ? Encoding.UTF8.GetString(v) : null;

    private static int? IntHeader(Headers? h, string name) => int.TryParse(Header(h, name), CultureInfo.InvariantCulture, out var v) ? v : null;

    private static long? LongHeader(Headers? h, string name) => long.TryParse(Header(h, name), CultureInfo.InvariantCulture, out var v) ? v : null;
}
