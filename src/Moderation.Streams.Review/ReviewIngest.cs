using Confluent.Kafka;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Kafka;

namespace Moderation.Streams.Review;

/// <summary>
/// Reads <c>moderation.decisions.review</c> into the queue (group <c>Review:GroupId</c>). An offset is committed only
/// after its item is in Redis, so a restart re-reads rather than loses; a redelivered decision is queued once (the
/// store's conditions). A record that is not a review decision goes to the DLQ (<c>invalid-event</c>) and the rest go on.
/// While Redis is down the consumer waits and retries the same record: nothing is skipped.
/// <para>Kafka is the record: in an empty or wiped store the queue is rebuilt from the topics. The verdicts on
/// <c>moderation.reviews</c> are read first (those items are judged and never queued again), then the review topic is read
/// from its beginning whatever the group committed; the store is marked initialised once the consumer has caught up.</para>
/// </summary>
public sealed class ReviewIngest : BackgroundService
{
    private readonly ReviewStore _store;
    private readonly KafkaOptions _kafka;
    private readonly ReviewOptions _options;
    private readonly ReviewTelemetry _telemetry;
    private readonly ILogger _log;
    private readonly TaskCompletionSource _assigned = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ReviewIngest(ReviewStore store, KafkaOptions kafka, ReviewOptions options, ReviewTelemetry telemetry, ILogger<ReviewIngest> log)
    {
        _store = store;
        _kafka = kafka;
        _options = options;
        _telemetry = telemetry;
        _log = log;
    }

    /// <summary>Completes when the consumer has its first assignment (readiness).</summary>
    public Task Assigned => _assigned.Task;

    /// <summary>Items queued since start.</summary>
    public long Queued => Interlocked.Read(ref _queued);
    private long _queued;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => Run(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    private async Task Run(CancellationToken ct)
    {
        bool rebuild = await WaitForStoreAsync(() => _store.IsInitialisedAsync(), ct).ConfigureAwait(false) is false;
        if (rebuild)
        {
            var judged = new HashSet<string>(StringComparer.Ordinal);
            foreach (var r in TopicScan.ReadToEnd(_kafka, [_options.ReviewsTopic], _options.GroupId + "-rebuild", ct: ct))
            {
                try
                {
                    if (r.Message.Value is { } v && VerdictEvent.FromUtf8Json(v).ContentId is { } id && UploadEventParser.IsValidId(id)) judged.Add(id);
                }
                catch (Exception e) when (e is System.Text.Json.JsonException or ArgumentException or InvalidOperationException or NotSupportedException)
                {
                    _log.LogWarning("review queue rebuild: {Topic}[{Partition}]@{Offset} is not a verdict; ignored", r.Topic, r.Partition.Value, r.Offset.Value);
                }
            }
            await WaitForStoreAsync(async () => { await _store.MarkJudgedAsync(judged).ConfigureAwait(false); return true; }, ct).ConfigureAwait(false);
            _log.LogInformation("review queue: the store is empty; rebuilding it from {Topic} ({Judged} items already judged on {Reviews})",
                _kafka.ReviewTopic, judged.Count, _options.ReviewsTopic);
        }

        var config = KafkaClientConfig.Consumer(_kafka);
        config.GroupId = _options.GroupId;
        config.GroupInstanceId = null;
        var caughtUpAt = new Dictionary<TopicPartition, long>();
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config)
            .SetPartitionsAssignedHandler((c, partitions) =>
            {
                _assigned.TrySetResult();
                if (!rebuild) return partitions.Select(p => new TopicPartitionOffset(p, Offset.Unset));
                foreach (var p in partitions) caughtUpAt[p] = c.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10)).High.Value;
                return partitions.Select(p => new TopicPartitionOffset(p, Offset.Beginning));
            })
            .SetErrorHandler((_, e) => _log.LogWarning("review queue consumer: {Reason}", e.Reason))
            .SetLogHandler((_, m) => { if (m.Level <= SyslogLevel.Warning) _log.LogWarning("review queue consumer: {Message}", m.Message); })
            .Build();
        using var producer = new ProducerBuilder<byte[]?, byte[]>(KafkaClientConfig.Producer(_kafka)).SetLogHandler((_, _) => { }).Build();
        consumer.Subscribe(_kafka.ReviewTopic);
        var lastCommit = DateTime.UtcNow;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                ConsumeResult<byte[]?, byte[]?>? record;
                try
                {
                    record = consumer.Consume(TimeSpan.FromMilliseconds(200));
                }
                catch (ConsumeException e)
                {
                    _log.LogWarning("review queue consumer: {Reason}", e.Error.Reason);
                    continue;
                }
                if (record is not null && !record.IsPartitionEOF)
                {
                    _assigned.TrySetResult();
                    await HandleAsync(record, producer, ct).ConfigureAwait(false);
                    consumer.StoreOffset(record);
                }
                if (rebuild && caughtUpAt.Count > 0 && caughtUpAt.All(p => consumer.Position(p.Key).Value >= p.Value || p.Value == 0))
                {
                    Commit(consumer);
                    await WaitForStoreAsync(async () => { await _store.MarkInitialisedAsync(DateTimeOffset.UtcNow).ConfigureAwait(false); return true; }, ct).ConfigureAwait(false);
                    rebuild = false;
                    _log.LogInformation("review queue: rebuilt from the topics");
                }
                if (DateTime.UtcNow - lastCommit > TimeSpan.FromMilliseconds(500))
                {
                    Commit(consumer);
                    lastCommit = DateTime.UtcNow;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            Commit(consumer);
            consumer.Close();
        }
    }

    private void Commit(IConsumer<byte[]?, byte[]?> consumer)
    {
        try
        {
            consumer.Commit();
        }
        catch (KafkaException e) when (e.Error.Code is ErrorCode.Local_NoOffset)
        {
        }
        catch (KafkaException e)
        {
            _log.LogWarning("review queue consumer: commit failed ({Reason}); the records are read again after a restart", e.Error.Reason);
        }
    }

    /// <summary>Runs <paramref name="action"/> until the store answers (a review console without its store can do nothing).</summary>
    private async Task<T> WaitForStoreAsync<T>(Func<Task<T>> action, CancellationToken ct)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return await action().ConfigureAwait(false);
            }
            catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
            {
                if (attempt % 20 == 0) _log.LogWarning("review queue: Redis unavailable ({Reason}); retrying", e.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 100 * (attempt + 1))), ct).ConfigureAwait(false);
            }
        }
    }

    private async Task HandleAsync(ConsumeResult<byte[]?, byte[]?> record, IProducer<byte[]?, byte[]> producer, CancellationToken ct)
    {
        DecisionEvent decision;
        try
        {
            decision = DecisionEvent.FromUtf8Json(record.Message.Value ?? []);
            if (!UploadEventParser.IsValidId(decision.ContentId)) throw new FormatException("content_id is not a valid id");
            if (decision.Action != Actions.Review) throw new FormatException($"action is '{SafeText.Escape(decision.Action, 32)}', not review");
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or FormatException or InvalidOperationException or ArgumentException or NotSupportedException)
        {
            string message = $"not a review decision: {SafeText.Escape(e.Message, 300)}";
            _log.LogWarning("review queue: {Topic}[{Partition}]@{Offset} {Message}; sent to the DLQ", record.Topic, record.Partition.Value, record.Offset.Value, message);
            var dead = DeadLetter.Create(_kafka.DlqTopic, record, ErrorCodes.InvalidEvent, message);
            await producer.ProduceAsync(dead.Topic, new Message<byte[]?, byte[]> { Key = dead.Key, Value = dead.Value, Headers = dead.Headers }, ct).ConfigureAwait(false);
            _telemetry.Invalid();
            return;
        }

        var item = new ReviewItem
        {
            ContentId = decision.ContentId,
            Decision = decision,
            QueuedAt = decision.DecidedAt,
            Priority = ReviewPriority.Of(decision),
        };
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                if (await _store.EnqueueAsync(item).ConfigureAwait(false))
                {
                    Interlocked.Increment(ref _queued);
                    _telemetry.Queued();
                }
                return;
            }
            catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
            {
                if (attempt % 20 == 0) _log.LogWarning("review queue: Redis unavailable ({Reason}); retrying {ContentId}", e.Message, decision.ContentId);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 100 * (attempt + 1))), ct).ConfigureAwait(false);
            }
        }
    }
}
