using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Moderation.Streams.Kafka.Replay;

/// <summary>
/// Turns a replay range into offsets: watermarks and end offsets captured once (so a replay always finishes),
/// timestamps through <c>OffsetsForTimes</c> — or, where the broker answers End without an error (the embedded
/// broker does for every timestamp), by a binary search on message timestamps — and the replay group's
/// committed offsets as the point to resume from.
/// </summary>
/// <remarks>
/// The binary search assumes message timestamps that do not decrease along a partition, which holds for
/// <c>LogAppendTime</c> topics and, closely enough, for <c>CreateTime</c> ones written by a few producers with
/// synchronised clocks. It reads about log2(offsets) single messages per partition.
/// </remarks>
public sealed class ReplayRangeResolver : IDisposable
{
    private readonly KafkaOptions _options;
    private readonly ILogger _logger;
    private readonly TimeSpan _timeout;
    private readonly IConsumer<byte[]?, byte[]?> _reader;
    private int _timestampReads;

    public ReplayRangeResolver(KafkaOptions options, string groupId, ILogger? logger = null, TimeSpan? timeout = null)
    {
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _timeout = timeout ?? TimeSpan.FromSeconds(30);
        GroupId = groupId;
        _reader = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig(KafkaSecurity.ConsumerProperties(options))
        {
            BootstrapServers = options.BootstrapServers,
            // The replay's group, only to read its committed offsets: this consumer assigns and never commits.
            GroupId = groupId,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            EnablePartitionEof = true,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            FetchWaitMaxMs = 100,
            MaxPartitionFetchBytes = 64 * 1024,
        }).SetErrorHandler((_, e) => _logger.LogWarning("Replay range: {Reason}", e.Reason)).Build();
    }

    public string GroupId { get; }

    /// <summary>Single messages read by timestamp binary searches so far.</summary>
    public int TimestampReads => _timestampReads;

    /// <summary>Resolves <paramref name="from"/>..<paramref name="to"/> on <paramref name="topic"/> and reads where this replay's group got to.</summary>
    /// <exception cref="ArgumentException">The topic does not exist, a listed partition does not exist, or the range is reversed.</exception>
    public ReplayPlan Resolve(string topic, ReplayBound from, ReplayBound to)
    {
        var all = PartitionsOf(topic);
        var partitions = from is ReplayBound.AtOffsets start ? [.. start.Offsets.Keys.Order()] : all;
        foreach (var listed in new[] { from, to }.OfType<ReplayBound.AtOffsets>())
        {
            foreach (var p in listed.Offsets.Keys.Where(p => !all.Contains(p)))
                throw new ArgumentException($"{topic} has no partition {p} (it has {all.Count})");
        }

        var committed = Committed(topic, partitions);
        var ranges = new List<PartitionRange>();
        long unavailable = 0;
        foreach (var p in partitions)
        {
            var tp = new TopicPartition(topic, p);
            var marks = _reader.QueryWatermarkOffsets(tp, _timeout);
            long low = marks.Low.Value, high = marks.High.Value;
            long first = Offset(tp, from, low, high, isEnd: false);
            long end = Offset(tp, to, low, high, isEnd: true);
            if (first < low)
            {
                unavailable += Math.Min(end, low) - first;
                _logger.LogWarning("{Partition}: offsets {First}..{Low} were deleted by retention; the range starts at {Low}", tp, first, low - 1, low);
            }
            if (end < first)
                throw new ArgumentException($"{tp}: the range ends ({end}) before it starts ({first})");
            first = Math.Clamp(first, low, high);
            end = Math.Clamp(end, first, high);
            long resume = committed.TryGetValue(p, out var c) ? Math.Clamp(c, first, end) : first;
            ranges.Add(new PartitionRange(p, first, end, resume));
        }
        return new ReplayPlan(topic, GroupId, ranges) { Unavailable = Math.Max(0, unavailable) };
    }

    public IReadOnlyList<int> PartitionsOf(string topic)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig(KafkaSecurity.Properties(_options)) { BootstrapServers = _options.BootstrapServers }).Build();
        // All topics' metadata: asking for one by name lets brokers with auto-creation create it.
        var metadata = admin.GetMetadata(_timeout);
        var t = metadata.Topics.SingleOrDefault(x => x.Topic == topic);
        if (t is null || t.Error.IsError || t.Partitions.Count == 0)
            throw new ArgumentException($"topic '{topic}' not found ({t?.Error.Reason ?? "no metadata"})");
        return [.. t.Partitions.Select(x => x.PartitionId).Order()];
    }

    private Dictionary<int, long> Committed(string topic, IReadOnlyList<int> partitions)
    {
        var result = new Dictionary<int, long>();
        foreach (var c in _reader.Committed(partitions.Select(p => new TopicPartition(topic, p)), _timeout))
            if (c.Offset.Value >= 0) result[c.Partition.Value] = c.Offset.Value;
        return result;
    }

    private long Offset(TopicPartition tp, ReplayBound bound, long low, long high, bool isEnd) => bound switch
    {
        ReplayBound.Now => high,
        ReplayBound.Earliest => low,
        ReplayBound.AtOffsets o => o.Offsets.TryGetValue(tp.Partition.Value, out var offset) ? offset : isEnd ? high : low,
        ReplayBound.AtTime t => OffsetForTime(tp, t.Time, low, high),
        _ => throw new ArgumentOutOfRangeException(nameof(bound), bound, null),
    };

    /// <summary>The first offset whose timestamp is at or after <paramref name="time"/>, or <paramref name="high"/>.</summary>
    public long OffsetForTime(TopicPartition tp, DateTimeOffset time, long low, long high)
    {
        if (high <= low) return high;
        try
        {
            var answer = _reader.OffsetsForTimes([new TopicPartitionTimestamp(tp, new Timestamp(time))], _timeout).Single();
            // A real broker answers End only when every message is older; the embedded one answers End for any
            // timestamp. The binary search tells the two apart and costs only log2(offsets) reads.
            if (answer.Offset.Value >= 0) return Math.Clamp(answer.Offset.Value, low, high);
        }
        catch (KafkaException e)
        {
            _logger.LogInformation("{Partition}: OffsetsForTimes failed ({Reason}); searching message timestamps", tp, e.Error.Reason);
        }
        return FirstOffsetAtOrAfter(tp, time, low, high);
    }

    /// <summary>Binary search on message timestamps in [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public long FirstOffsetAtOrAfter(TopicPartition tp, DateTimeOffset time, long low, long high)
    {
        long target = time.ToUnixTimeMilliseconds();
        long lo = low, hi = high;
        while (lo < hi)
        {
            long mid = lo + (hi - lo) / 2;
            var found = ReadAtOrAfter(tp, mid);
            if (found is not { } m || m.Offset >= hi)
                hi = mid; // nothing stored in [mid, hi): starting at mid reads the same as starting at hi
            else if (m.Timestamp < target)
                lo = m.Offset + 1;
            else
                hi = mid; // offsets in (mid, m.Offset) hold nothing: the answer is at most m.Offset
        }
        return lo;
    }

    private (long Offset, long Timestamp)? ReadAtOrAfter(TopicPartition tp, long offset)
    {
        Interlocked.Increment(ref _timestampReads);
        _reader.Assign(new TopicPartitionOffset(tp, offset));
        var deadline = DateTime.UtcNow + _timeout;
        while (DateTime.UtcNow < deadline)
        {
            var r = _reader.Consume(TimeSpan.FromMilliseconds(200));
            if (r is null || r.TopicPartition != tp) continue;
            if (r.IsPartitionEOF) return null;
            if (r.Offset.Value < offset) continue;
            if (r.Message.Timestamp.Type == TimestampType.NotAvailable)
                throw new InvalidOperationException($"{tp}@{r.Offset.Value} carries no timestamp: give the range as offsets");
            return (r.Offset.Value, r.Message.Timestamp.UnixTimestampMs);
        }
        throw new TimeoutException($"{tp}: no message or end of partition at offset {offset} within {_timeout}");
    }

    public void Dispose()
    {
        _reader.Close();
        _reader.Dispose();
    }
}
