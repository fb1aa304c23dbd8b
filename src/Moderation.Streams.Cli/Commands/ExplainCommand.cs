using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Kafka;
using Moderation.Streams.Kafka.Replay;
using Moderation.Streams.Worker;

namespace Moderation.Streams.Cli.Commands;

/// <summary>
/// <c>moderation explain CONTENT_ID</c>: why an upload was decided as it was, read back from what the workers published:
/// every record for the content id on the decision topics and the DLQ (optionally the backfill and shadow topics), each
/// with its action, reasons, scores, bank matches, policy and model versions and the upload's source offset. The topics
/// have no index by content id: each partition is read from its start to its end at the time of the call (bounded by
/// <c>--timeout</c>). Exit 1 when no record is found.
/// </summary>
internal static class ExplainCommand
{
    public static Command Create()
    {
        var id = new Argument<string>("CONTENT_ID") { Description = "The upload's content_id" };
        var kafka = CommonOptions.Kafka();
        var timeout = new Option<double>("--timeout")
        {
            Description = "Seconds to read the topics for (they are read from their start to their current end)",
            DefaultValueFactory = _ => 30,
            Validators = { r => { if (r.GetValueOrDefault<double>() is not (> 0 and <= 3600)) r.AddError("--timeout must be in (0, 3600] seconds"); } },
        };
        var backfill = new Option<bool>("--backfill") { Description = "Also read the replay's moderation.backfill.* topics" };
        var shadow = new Option<bool>("--shadow") { Description = "Also read the shadow model's topic (Kafka:ShadowTopic): would-be decisions, never acted on" };
        var json = new Option<bool>("--json") { Description = "One JSON object per record: {\"topic\",\"partition\",\"offset\",\"timestamp\",\"decision\"|\"dlq\"}" };
        var command = new Command("explain", "Why a decision was made: every record for CONTENT_ID on the decision topics and the DLQ " +
            "(Kafka:TakedownTopic, ReviewTopic, AllowTopic, DlqTopic), with action, reasons, scores, banks, policy and model versions " +
            "and the upload's source offset. Configuration as the worker's (appsettings.json, environment, Kafka:Security). Exit 1 when none is found.")
        {
            id, kafka, timeout, backfill, shadow, json,
        };
        command.SetAction((parse, ct) =>
        {
            var contentId = parse.GetValue(id)!;
            if (!UploadEventParser.IsValidId(contentId)) return Task.FromResult(Usage("CONTENT_ID must be 1-128 characters of [A-Za-z0-9._:-]"));
            var overrides = new Dictionary<string, string?>();
            if (parse.GetValue(kafka) is { Length: > 0 } servers) overrides["Kafka:BootstrapServers"] = servers;
            ScreeningSettings settings;
            Dictionary<string, string> properties;
            try
            {
                settings = ScreeningSettings.Load(overrides);
                properties = KafkaSecurity.Properties(settings.Kafka);
            }
            catch (Exception e) when (e is Microsoft.Extensions.Options.OptionsValidationException or InvalidOperationException or ArgumentException)
            {
                return Task.FromResult(Usage($"invalid configuration: {e.Message}"));
            }
            var k = settings.Kafka;
            var topics = new List<string> { k.TakedownTopic, k.ReviewTopic, k.AllowTopic, k.DlqTopic };
            if (parse.GetValue(backfill)) topics.AddRange([ReplayTopics.Takedown, ReplayTopics.Review, ReplayTopics.Allow, ReplayTopics.Dlq]);
            if (parse.GetValue(shadow)) topics.Add(k.ShadowTopic);
            var dlqTopics = new HashSet<string>(StringComparer.Ordinal) { k.DlqTopic, ReplayTopics.Dlq };
            return Task.Run(() => Run(contentId, k.BootstrapServers, properties, topics, dlqTopics, TimeSpan.FromSeconds(parse.GetValue(timeout)), parse.GetValue(json), ct), ct);
        });
        return command;
    }

    private static int Usage(string message)
    {
        Console.Error.WriteLine($"moderation explain: {message}");
        return ExitCodes.Usage;
    }

    private static int Run(string contentId, string bootstrap, Dictionary<string, string> properties, List<string> topics, HashSet<string> dlqTopics,
        TimeSpan timeout, bool json, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        TimeSpan Left() => deadline - DateTime.UtcNow is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero;
        string? firstError = null;
        void OnError(Error e)
        {
            if (e.IsFatal || e.Code is ErrorCode.Local_AllBrokersDown or ErrorCode.Local_Authentication) firstError ??= e.Reason;
        }

        // The partitions of each topic and their ends now: the range read.
        var ends = new Dictionary<TopicPartition, long>();
        var absent = new List<string>();
        try
        {
            using var admin = new AdminClientBuilder(new AdminClientConfig(properties) { BootstrapServers = bootstrap })
                .SetLogHandler((_, _) => { }).SetErrorHandler((_, e) => OnError(e)).Build();
            var metadata = admin.GetMetadata(Left());
            using var probe = Consumer(bootstrap, properties, OnError);
            foreach (var topic in topics)
            {
                var found = metadata.Topics.FirstOrDefault(t => t.Topic == topic && !t.Error.IsError);
                if (found is null) { absent.Add(topic); continue; }
                foreach (var p in found.Partitions)
                {
                    var tp = new TopicPartition(topic, p.PartitionId);
                    var marks = probe.QueryWatermarkOffsets(tp, Left());
                    if (marks.High.Value > marks.Low.Value) ends[tp] = marks.High.Value;
                }
            }
        }
        catch (KafkaException e)
        {
            Console.Error.WriteLine($"moderation explain: Kafka at {bootstrap} unavailable within {timeout.TotalSeconds:0.#} s: {firstError ?? e.Error.Reason} (--kafka, Kafka:BootstrapServers, Kafka:Security)");
            return ExitCodes.Failure;
        }
        foreach (var topic in absent) Console.Error.WriteLine($"moderation explain: no topic {topic} (nothing published there yet)");

        var records = new List<string>();
        long read = 0;
        var pending = new Dictionary<TopicPartition, long>(ends);
        if (pending.Count > 0)
        {
            using var consumer = Consumer(bootstrap, properties, OnError);
            consumer.Assign(pending.Keys.Select(tp => new TopicPartitionOffset(tp, Offset.Beginning)));
            while (pending.Count > 0 && !ct.IsCancellationRequested && Left() > TimeSpan.Zero)
            {
                var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
                if (r is null || !pending.TryGetValue(r.TopicPartition, out var end)) continue;
                if (r.IsPartitionEOF || r.Offset.Value >= end - 1) pending.Remove(r.TopicPartition);
                if (r.IsPartitionEOF || r.Offset.Value >= end) continue;
                read++;
                if (Describe(contentId, r, dlqTopics.Contains(r.Topic), json) is { } text) records.Add(text);
            }
        }

        foreach (var record in records) Console.Out.WriteLine(record);
        bool complete = pending.Count == 0;
        string where = $"{string.Join(", ", topics)} ({read} records read{(complete ? "" : $", {pending.Count} partitions unfinished after {timeout.TotalSeconds:0.#} s (--timeout)")})";
        if (records.Count == 0)
        {
            Console.Error.WriteLine($"moderation explain: no record for {contentId} in {where}");
            return ExitCodes.Failure;
        }
        if (!complete) Console.Error.WriteLine($"moderation explain: incomplete: {where}; more records for {contentId} may exist");
        return ExitCodes.Ok;
    }

    private static IConsumer<byte[]?, byte[]?> Consumer(string bootstrap, Dictionary<string, string> properties, Action<Error> onError) =>
        new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig(properties)
        {
            BootstrapServers = bootstrap,
            GroupId = "moderation-explain", // never joined (partitions are assigned) and never committed
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            EnablePartitionEof = true,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).SetLogHandler((_, _) => { }).SetErrorHandler((_, e) => onError(e)).Build();

    /// <summary>The record's lines when it is about <paramref name="contentId"/> (its key, or the DLQ payload's content_id), else null.</summary>
    private static string? Describe(string contentId, ConsumeResult<byte[]?, byte[]?> r, bool dlq, bool json)
    {
        var key = r.Message.Key is { Length: > 0 } k ? Encoding.UTF8.GetString(k) : null;
        var value = r.Message.Value ?? [];
        if (key is not null && key != contentId) return null;
        var at = r.Message.Timestamp.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
        var place = $"{r.Topic}[{r.Partition.Value}]@{r.Offset.Value}";
        if (dlq)
        {
            if (key is null && UploadEventParser.TryReadContentId(value) != contentId) return null;
            string? Header(string name) => r.Message.Headers is { } h && h.TryGetLastBytes(name, out var v) ? Encoding.UTF8.GetString(v) : null;
            string? code = Header(DlqHeaders.ErrorCode), message = Header(DlqHeaders.ErrorMessage);
            string? sourceTopic = Header(DlqHeaders.SourceTopic), sourcePartition = Header(DlqHeaders.SourcePartition), sourceOffset = Header(DlqHeaders.SourceOffset);
            if (json)
            {
                return JsonSerializer.Serialize(new
                {
                    topic = r.Topic, partition = r.Partition.Value, offset = r.Offset.Value, timestamp = at,
                    dlq = new { content_id = contentId, code, message, source = new { topic = sourceTopic, partition = sourcePartition, offset = sourceOffset } },
                });
            }
            static string Shown(string? value) => value is null ? "?" : SafeText.Escape(value, TextLimits.ReasonMessageChars);
            return $"{place} {at} dlq: {Shown(code)}: {Shown(message)}" +
                   $"\n  source: {Shown(sourceTopic)}[{Shown(sourcePartition)}]@{Shown(sourceOffset)}";
        }

        DecisionEvent d;
        try
        {
            d = DecisionEvent.FromUtf8Json(value);
        }
        catch (JsonException e)
        {
            return key == contentId ? $"{place} {at} unreadable decision: {e.Message}" : null;
        }
        if (d.ContentId != contentId) return null;
        if (json)
        {
            using var doc = JsonDocument.Parse(value);
            return JsonSerializer.Serialize(new { topic = r.Topic, partition = r.Partition.Value, offset = r.Offset.Value, timestamp = at, decision = doc.RootElement });
        }
        var text = new StringBuilder();
        // Reasons are escaped when read (DecisionReason); the rest of a record anyone with write access could have made is escaped here.
        static string Safe(string? value) => value is null ? "-" : SafeText.Escape(value, TextLimits.ReasonMessageChars);
        text.Append(CultureInfo.InvariantCulture, $"{place} {at} {Safe(d.Action)}: policy {Safe(d.PolicyVersion)}, model {Safe(d.ModelVersion)}")
            .Append(CultureInfo.InvariantCulture, $", decided {d.DecidedAt.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffZ} in {d.LatencyMs} ms{(d.Cached ? ", from the decision cache" : "")}");
        if (d.Reasons.Count == 0) text.Append("\n  reason: none (no threshold, bank or text rule reached)");
        foreach (var reason in d.Reasons) text.Append("\n  reason: ").Append(Reason(reason));
        if (d.Scores is { Count: > 0 } scores)
            text.Append("\n  scores: ").AppendJoin(", ", scores.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => string.Create(CultureInfo.InvariantCulture, $"{Safe(s.Key)} {s.Value:0.####}")));
        if (d.Pdq is { } pdq) text.Append(CultureInfo.InvariantCulture, $"\n  pdq: {Safe(pdq.Hash)} quality {pdq.Quality}");
        if (d.Source is { } source) text.Append(CultureInfo.InvariantCulture, $"\n  source: {Safe(source.Topic)}[{source.Partition}]@{source.Offset}");
        return text.ToString();
    }

    /// <summary>One reason in words, by source (model threshold, bank match, text match, cache, fail-closed…).</summary>
    internal static string Reason(DecisionReason x)
    {
        var text = x.Source switch
        {
            "model" => string.Create(CultureInfo.InvariantCulture, $"model {x.Model}: {x.Label} {x.Score:0.####} >= {x.Threshold:0.####}"),
            "bank" => string.Create(CultureInfo.InvariantCulture, $"bank {x.Bank}: entry {x.MatchId} at distance {x.Distance}"),
            "text" => string.Create(CultureInfo.InvariantCulture, $"text: {x.Field} matches {x.Kind} bank {x.Bank} entry {x.Id} ({x.Category})") +
                      (x.Similarity is { } s ? string.Create(CultureInfo.InvariantCulture, $" similarity {s:0.###}") : string.Create(CultureInfo.InvariantCulture, $" at {x.Start}-{x.End}")),
            _ => x.Source + (x.Code is { } code ? $" {code}" : "") + (x.Label is { } label ? string.Create(CultureInfo.InvariantCulture, $" {label} {x.Score:0.####}") : "") +
                 (x.Bank is { } bank ? $" bank {bank}" : ""),
        };
        if (x.FramesSampled is { } frames) text += $" ({x.FrameTimestampsMs?.Count ?? 0} of {frames} frames)";
        if (x.Message is { Length: > 0 } message) text += $": {message}";
        return text;
    }
}
