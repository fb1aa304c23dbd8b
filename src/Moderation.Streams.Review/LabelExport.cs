using System.Text;
using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media;

namespace Moderation.Streams.Review;

/// <summary>
/// <c>moderation review export-labels</c>: every reviewer verdict as a labelled set <c>evaluate</c> reads. Kafka is the
/// record: the final decisions a verdict published (takedown/allow topics, <see cref="VerdictPublisher.VerdictIdHeader"/>)
/// give the verdict and the upload's source; the upload gives the media (through the safe reader) or the text.
/// Writes <c>OUT/labels.csv</c> (<c>path,label</c>, <c>unsafe</c> for takedown, <c>safe</c> for allow, media under
/// <c>OUT/media/</c>) and <c>OUT/texts.csv</c> (<c>text,label</c>: the text bank category the machine flagged, or
/// <c>unsafe</c>; <c>none</c> for allow). The latest verdict per content id wins.
/// </summary>
public static class LabelExport
{
    public sealed record Summary(int Verdicts, int Media, int Texts, int Unavailable);

    public static async Task<Summary> ExportAsync(KafkaOptions kafka, MediaReader reader, string outDir, Action<string>? warn, CancellationToken ct)
    {
        var finals = new Dictionary<string, DecisionEvent>(StringComparer.Ordinal);
        var originals = new Dictionary<string, DecisionEvent>(StringComparer.Ordinal);
        await Task.Run(() =>
        {
            foreach (var (message, hasVerdict) in ReadAll(kafka, [kafka.TakedownTopic, kafka.AllowTopic, kafka.ReviewTopic], ct))
            {
                DecisionEvent d;
                try
                {
                    d = DecisionEvent.FromUtf8Json(message);
                }
                catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or ArgumentException)
                {
                    continue;
                }
                if (d.Action == Actions.Review) originals[d.ContentId] = d;
                else if (hasVerdict && d.Reasons.Any(r => r.Source == "review")) finals[d.ContentId] = d;
            }
        }, ct).ConfigureAwait(false);

        Directory.CreateDirectory(Path.Combine(outDir, "media"));
        using var lookup = new UploadLookup(kafka);
        var labels = new StringBuilder("path,label\n");
        var texts = new StringBuilder("text,label\n");
        int mediaCount = 0, textCount = 0, unavailable = 0;
        foreach (var (id, final) in finals.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            var upload = await lookup.FindAsync(final, ct).ConfigureAwait(false);
            if (upload is null)
            {
                unavailable++;
                warn?.Invoke($"{id}: its upload record is no longer on the topic; left out");
                continue;
            }
            bool takedown = final.Action == Actions.Takedown;
            if (upload.Media is { } media)
            {
                try
                {
                    var bytes = await reader.ReadAsync(media, ct).ConfigureAwait(false);
                    var ext = MediaService.ContentType(MediaSniffer.Sniff(bytes)) is { } type ? type[(type.IndexOf('/') + 1)..] : "bin";
                    var rel = $"media/{id}.{ext}";
                    await File.WriteAllBytesAsync(Path.Combine(outDir, rel), bytes, ct).ConfigureAwait(false);
                    labels.Append(Csv(rel)).Append(',').Append(takedown ? "unsafe" : "safe").Append('\n');
                    mediaCount++;
                }
                catch (ModerationException e)
                {
                    unavailable++;
                    warn?.Invoke($"{id}: media not readable ({e.Code}); left out");
                }
            }
            foreach (var text in new[] { upload.Caption, upload.Text })
            {
                if (string.IsNullOrEmpty(text)) continue;
                string label = !takedown ? "none"
                    : originals.GetValueOrDefault(id)?.Reasons.FirstOrDefault(r => r.Source == "text")?.Category ?? "unsafe";
                texts.Append(Csv(text)).Append(',').Append(Csv(label)).Append('\n');
                textCount++;
            }
        }
        await File.WriteAllTextAsync(Path.Combine(outDir, "labels.csv"), labels.ToString(), ct).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(outDir, "texts.csv"), texts.ToString(), ct).ConfigureAwait(false);
        return new Summary(finals.Count, mediaCount, textCount, unavailable);
    }

    private static string Csv(string value) =>
        value.IndexOfAny([',', '"', '\n', '\r']) < 0 ? value : "\"" + value.Replace("\"", "\"\"") + "\"";

    /// <summary>Every record of <paramref name="topics"/> from the start to the end as it was when the read began.</summary>
    private static IEnumerable<(byte[] Value, bool HasVerdict)> ReadAll(KafkaOptions kafka, IReadOnlyList<string> topics, CancellationToken ct)
    {
        foreach (var r in TopicScan.ReadToEnd(kafka, topics, "moderation-review-export", ct: ct))
            if (r.Message.Value is { } value)
                yield return (value, r.Message.Headers?.TryGetLastBytes(VerdictPublisher.VerdictIdHeader, out _) == true);
    }
}
