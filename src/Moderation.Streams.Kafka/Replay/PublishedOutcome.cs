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
    /// <summary>Why, in short: the decision's reasons (<c>model:porn&gt;=0.9</c>, <c>bank:NAME/ID@DISTANCE</c>,
    /// <c>text:CATEGORY@FIELD</c>, <c>SOURCE:CODE</c>) joined by spaces; a DLQ record's error code. Empty for an allow without one.</summary>
    public string? Reason { get; init; }

    /// <summary>The highest of the class scores as <c>LABEL:SCORE</c>; null without scores (bank-only, text, DLQ).</summary>
    public string? Score { get; init; }

    /// <summary>The banks that matched, space-separated; null when none did.</summary>
    public string? Banks { get; init; }

    public const string Dlq = "dlq";
    public const string None = "none";

    /// <summary>Reads a record of a decision topic (a DecisionEvent) or of a DLQ topic (key and source headers).</summary>
    public static PublishedOutcome? FromRecord(string topic, string dlqTopic, byte[]? key, byte[] value, Headers? headers, DateTimeOffset timestamp)
    {
        if (topic == dlqTopic)
        {
            var id = key is { Length: > 0 } ? Encoding.UTF8.GetString(key) : UploadEventParser.TryReadContentId(value);
            if (id is null) return null;
            return new PublishedOutcome(id, Dlq, timestamp, null, null, IntHeader(headers, DlqHeaders.SourcePartition), LongHeader(headers, DlqHeaders.SourceOffset))
            {
                Reason = Header(headers, DlqHeaders.ErrorCode),
            };
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
        return new PublishedOutcome(d.ContentId, d.Action, d.DecidedAt, d.PolicyVersion, d.ModelVersion, d.Source?.Partition, d.Source?.Offset)
        {
            Reason = string.Join(' ', d.Reasons.Select(Short)),
            Score = d.Scores is { Count: > 0 } scores
                ? scores.OrderByDescending(s => s.Value).ThenBy(s => s.Key, StringComparer.Ordinal).Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Key}:{s.Value:0.####}")).First()
                : null,
            Banks = d.Reasons.Where(r => r.Source == "bank" && r.Bank is not null).Select(r => r.Bank!).Distinct(StringComparer.Ordinal).ToList() is { Count: > 0 } banks
                ? string.Join(' ', banks) : null,
        };
    }

    /// <summary>One reason in a few characters, for a diff's column.</summary>
    public static string Short(DecisionReason r) => r.Source switch
    {
        "model" => string.Create(CultureInfo.InvariantCulture, $"model:{r.Label}>={r.Threshold:0.####}"),
        "bank" => string.Create(CultureInfo.InvariantCulture, $"bank:{r.Bank}/{r.MatchId}@{r.Distance}"),
        "text" => $"text:{r.Category}@{r.Field}",
        _ => r.Code is { } code ? $"{r.Source}:{code}" : r.Source,
    };

    private static string? Header(Headers? headers, string name) =>
        headers is not null && headers.TryGetLastBytes(name, out var v) ? Encoding.UTF8.GetString(v) : null;

    private static int? IntHeader(Headers? h, string name) => int.TryParse(Header(h, name), CultureInfo.InvariantCulture, out var v) ? v : null;

    private static long? LongHeader(Headers? h, string name) => long.TryParse(Header(h, name), CultureInfo.InvariantCulture, out var v) ? v : null;
}
