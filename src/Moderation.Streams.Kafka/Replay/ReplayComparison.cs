using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Kafka;

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

/// <summary>A content_id whose outcome the replay changed.</summary>
public sealed record OutcomeChange(string ContentId, string Before, string After, string? BeforePolicyVersion, string? AfterPolicyVersion,
    string? BeforeModelVersion, string? AfterModelVersion, int? Partition, long? Offset)
{
    public string Transition => $"{Before}->{After}";
}

/// <summary>The previous outcome of every replayed content_id next to the replay's, and what changed.</summary>
public sealed class ReplayDiff
{
    private ReplayDiff(long compared, long unchanged, IReadOnlyList<OutcomeChange> changes)
    {
        Compared = compared;
        Unchanged = unchanged;
        Changes = changes;
        Transitions = changes.GroupBy(c => c.Transition).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (long)g.Count());
    }

    /// <summary>Content ids the replay decided (each counted once: its latest replayed outcome).</summary>
    public long Compared { get; }
    public long Unchanged { get; }
    public long Changed => Changes.Count;

    /// <summary><c>before-&gt;after</c> → count, only for changes; <c>none</c> means no previous outcome was published.</summary>
    public IReadOnlyDictionary<string, long> Transitions { get; }

    public IReadOnlyList<OutcomeChange> Changes { get; }

    /// <summary>Latest (by decided_at) outcome per content_id on each side; content ids without a previous outcome count as <c>none</c>.</summary>
    public static ReplayDiff Compute(IEnumerable<PublishedOutcome> previous, IEnumerable<PublishedOutcome> replayed)
    {
        var after = Latest(replayed);
        var before = Latest(previous.Where(p => after.ContainsKey(p.ContentId)));
        var changes = new List<OutcomeChange>();
        long unchanged = 0;
        foreach (var (id, a) in after.OrderBy(x => x.Key, StringComparer.Ordinal))
        {
            before.TryGetValue(id, out var b);
            var beforeAction = b?.Action ?? PublishedOutcome.None;
            if (beforeAction == a.Action)
            {
                unchanged++;
                continue;
            }
            changes.Add(new OutcomeChange(id, beforeAction, a.Action, b?.PolicyVersion, a.PolicyVersion, b?.ModelVersion, a.ModelVersion, a.Partition, a.Offset));
        }
        return new ReplayDiff(after.Count, unchanged, changes);
    }

    private static Dictionary<string, PublishedOutcome> Latest(IEnumerable<PublishedOutcome> outcomes)
    {
        var latest = new Dictionary<string, PublishedOutcome>(StringComparer.Ordinal);
        foreach (var o in outcomes)
        {
            if (!latest.TryGetValue(o.ContentId, out var seen) || o.DecidedAt > seen.DecidedAt
                || (o.DecidedAt == seen.DecidedAt && (o.Partition, o.Offset).CompareTo((seen.Partition, seen.Offset)) > 0))
                latest[o.ContentId] = o;
        }
        return latest;
    }

    /// <summary>One line per change: <c>content_id,before,after,before_policy_version,after_policy_version,before_model_version,after_model_version,partition,offset</c>.</summary>
    public void WriteCsv(TextWriter writer)
    {
        writer.WriteLine("content_id,before,after,before_policy_version,after_policy_version,before_model_version,after_model_version,partition,offset");
        foreach (var c in Changes)
            writer.WriteLine(string.Join(",", Csv(c.ContentId), c.Before, c.After, Csv(c.BeforePolicyVersion), Csv(c.AfterPolicyVersion),
                Csv(c.BeforeModelVersion), Csv(c.AfterModelVersion), c.Partition?.ToString(CultureInfo.InvariantCulture) ?? "", c.Offset?.ToString(CultureInfo.InvariantCulture) ?? ""));
    }

    /// <summary><c>{"summary":{"compared","unchanged","changed","transitions":{…}},"changes":[…]}</c>, snake_case.</summary>
    public void WriteJson(Stream stream, object? range = null)
    {
        JsonSerializer.Serialize(stream, new
        {
            Range = range,
            Summary = new { Compared, Unchanged, Changed, Transitions },
            Changes,
        }, ReportJson);
    }

    private static readonly JsonSerializerOptions ReportJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        WriteIndented = true,
    };

    // content ids are [A-Za-z0-9._:-] by contract; versions are free text: quote when needed (RFC 4180).
    private static string Csv(string? value) =>
        value is null ? "" : value.IndexOfAny([',', '"', '\n', '\r']) < 0 ? value : "\"" + value.Replace("\"", "\"\"") + "\"";
}

/// <summary>
/// Collects what a replay needs for <c>--compare</c>: the live topics' end offsets when it started (so a replay to
/// the live topics never compares with itself), the replay's own outcomes as they finish, and, afterwards, the
/// previously published outcome of every replayed content_id.
/// </summary>
public sealed class ReplayComparison
{
    private readonly KafkaOptions _live;
    private readonly KafkaOptions _output;
    private readonly ConcurrentDictionary<(int Partition, long Offset), PublishedOutcome> _replayed = new();
    private Dictionary<TopicPartition, long>? _baseline;

    public ReplayComparison(KafkaOptions live, KafkaOptions output)
    {
        _live = live;
        _output = output;
    }

    private static string[] OutcomeTopics(KafkaOptions k) => [k.TakedownTopic, k.ReviewTopic, k.AllowTopic, k.DlqTopic];

    /// <summary>Call before the replay publishes anything.</summary>
    public void CaptureBaseline(TimeSpan timeout) => _baseline = TopicReader.EndOffsets(_live, OutcomeTopics(_live), timeout);

    /// <summary>The runner's <see cref="ReplayRunner.Outcome"/> callback.</summary>
    public void Record(ConsumeResult<byte[]?, byte[]?> upload, IReadOnlyList<OutboundMessage> records)
    {
        foreach (var r in records)
        {
            var outcome = PublishedOutcome.FromRecord(r.Topic, _output.DlqTopic, r.Key, r.Value, r.Headers, DateTimeOffset.UtcNow);
            if (outcome is not null)
                _replayed[(upload.Partition.Value, upload.Offset.Value)] = outcome with { Partition = upload.Partition.Value, Offset = upload.Offset.Value };
        }
    }

    /// <summary>Reads back what earlier runs of a resumed replay published for [Start, Resume), reads the previous
    /// outcomes, and diffs.</summary>
    public ReplayDiff Diff(ReplayPlan plan, bool readBackEarlierRuns, TimeSpan timeout)
    {
        if (_baseline is null) throw new InvalidOperationException("CaptureBaseline was not called before the replay");
        var replayed = new Dictionary<(int, long), PublishedOutcome>(_replayed);
        if (readBackEarlierRuns && plan.AlreadyDone > 0)
        {
            var done = plan.Partitions.ToDictionary(p => p.Partition);
            bool EarlierRun(PublishedOutcome o) => o.Partition is { } p && o.Offset is { } off && done.TryGetValue(p, out var r) && off >= r.Start && off < r.Resume;
            foreach (var o in TopicReader.Read(_output, OutcomeTopics(_output), until: null, keep: null, timeout))
            {
                if (!EarlierRun(o)) continue;
                var key = (o.Partition!.Value, o.Offset!.Value);
                if (!replayed.TryGetValue(key, out var seen) || o.DecidedAt > seen.DecidedAt) replayed[key] = o;
            }
        }
        var ids = replayed.Values.Select(o => o.ContentId).ToHashSet(StringComparer.Ordinal);
        var previous = TopicReader.Read(_live, OutcomeTopics(_live), _baseline, keep: ids, timeout);
        return ReplayDiff.Compute(previous, replayed.Values);
    }
}

/// <summary>Reads decision and DLQ topics from the beginning to given (or current) end offsets.</summary>
internal static class TopicReader
{
    public static Dictionary<TopicPartition, long> EndOffsets(KafkaOptions kafka, IEnumerable<string> topics, TimeSpan timeout)
    {
        using var consumer = Consumer(kafka);
        var ends = new Dictionary<TopicPartition, long>();
        foreach (var tp in Partitions(kafka, topics, timeout))
            ends[tp] = consumer.QueryWatermarkOffsets(tp, timeout).High.Value;
        return ends;
    }

    /// <param name="until">Exclusive end per partition; null = the current end. Partitions not in it are not read.</param>
    /// <param name="keep">Only these content ids (matched on the record key first, without parsing the rest).</param>
    public static List<PublishedOutcome> Read(KafkaOptions kafka, IEnumerable<string> topics, IReadOnlyDictionary<TopicPartition, long>? until,
        IReadOnlySet<string>? keep, TimeSpan timeout)
    {
        var topicList = topics.ToList();
        var ends = until is null ? EndOffsets(kafka, topicList, timeout) : new Dictionary<TopicPartition, long>(until);
        var pending = ends.Where(e => e.Value > 0 && topicList.Contains(e.Key.Topic)).ToDictionary(e => e.Key, e => e.Value);
        var outcomes = new List<PublishedOutcome>();
        if (pending.Count == 0) return outcomes;
        using var consumer = Consumer(kafka);
        consumer.Assign(pending.Keys.Select(tp => new TopicPartitionOffset(tp, Offset.Beginning)));
        var idle = DateTime.UtcNow + timeout;
        while (pending.Count > 0)
        {
            if (DateTime.UtcNow > idle)
                throw new TimeoutException($"reading {string.Join(",", pending.Keys.Select(k => k.ToString()))}: nothing arrived for {timeout}");
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r is null) continue;
            idle = DateTime.UtcNow + timeout;
            if (!pending.TryGetValue(r.TopicPartition, out var end)) continue;
            if (r.IsPartitionEOF || r.Offset.Value >= end)
            {
                if (r.Offset.Value >= end) pending.Remove(r.TopicPartition);
                continue;
            }
            if (r.Offset.Value >= end - 1) pending.Remove(r.TopicPartition);
            if (keep is not null && r.Message.Key is { Length: > 0 } key && !keep.Contains(Encoding.UTF8.GetString(key))) continue;
            var outcome = PublishedOutcome.FromRecord(r.Topic, kafka.DlqTopic, r.Message.Key, r.Message.Value ?? [], r.Message.Headers, r.Message.Timestamp.UtcDateTime);
            if (outcome is not null && (keep is null || keep.Contains(outcome.ContentId))) outcomes.Add(outcome);
        }
        return outcomes;
    }

    private static List<TopicPartition> Partitions(KafkaOptions kafka, IEnumerable<string> topics, TimeSpan timeout)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig(KafkaSecurity.Properties(kafka)) { BootstrapServers = kafka.BootstrapServers }).Build();
        var wanted = topics.ToHashSet();
        // Topics that do not exist yet (no replay published to them) have nothing to read.
        return [.. admin.GetMetadata(timeout).Topics.Where(t => wanted.Contains(t.Topic) && !t.Error.IsError)
            .SelectMany(t => t.Partitions.Select(p => new TopicPartition(t.Topic, p.PartitionId)))];
    }

    private static IConsumer<byte[]?, byte[]?> Consumer(KafkaOptions kafka) =>
        new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig(KafkaSecurity.Properties(kafka))
        {
            BootstrapServers = kafka.BootstrapServers,
            GroupId = "moderation-replay-compare",
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            EnablePartitionEof = true,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
}
