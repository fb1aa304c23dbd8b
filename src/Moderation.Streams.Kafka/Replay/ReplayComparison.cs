using System.Collections.Concurrent;
using Confluent.Kafka;

namespace Moderation.Streams.Kafka.Replay;

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
