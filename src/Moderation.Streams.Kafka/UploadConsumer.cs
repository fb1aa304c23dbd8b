using System.Collections.Concurrent;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Kafka;

/// <summary>
/// The consume loop: a single thread that polls, hands each upload to the <see cref="IUploadHandler"/> (many run
/// concurrently on the thread pool), keeps gap-free offsets (<see cref="OffsetTracker"/>) and handles rebalances. It
/// never blocks on the work: backpressure pauses partitions and the loop keeps polling, so group membership stays alive.
/// Publishing and committing belong to the delivery mode: <see cref="AtLeastOnceDelivery"/> (default) or
/// <see cref="ExactlyOnceDelivery"/>, both producing through one <see cref="OutcomePublisher"/>.
/// <para>No single record stops a partition: an outcome the broker refuses for good as a record (too large, invalid)
/// is replaced by a stub DLQ record so the upload's offset still commits; only when the stub is refused too is it
/// fatal. A fatal error stops in order: consuming stops, in-flight screening is cancelled and waited for (at most
/// <see cref="KafkaOptions.ShutdownTimeout"/>), nothing more is produced, and <see cref="Dispose"/> disposes the
/// consumer, then the producer, after the last produce call returned.</para>
/// <para>Intervals and deadlines (transactions, lag, drains) are measured on the injected <see cref="TimeProvider"/>;
/// the loop's own waits are short real-time slices (librdkafka's poll cannot run on another clock).</para>
/// </summary>
public sealed class UploadConsumer : IDisposable
{
    private static readonly TimeSpan PollSlice = TimeSpan.FromMilliseconds(100);

    /// <summary>The poll's wait while partitions are paused for backpressure: paused partitions deliver nothing, so the
    /// 100 ms slice idled the worker after every pause until the next poll noticed the completions that let it resume
    /// (bench e2e's cache-hit phase: a pause at every MaxInFlight uploads).</summary>
    private static readonly TimeSpan PausedPollSlice = TimeSpan.FromMilliseconds(5);
    private readonly KafkaOptions _options;
    private readonly IUploadHandler _handler;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly OffsetTracker _tracker = new();
    private readonly ConcurrentQueue<Completion> _completed = new();
    private readonly SemaphoreSlim _completionSignal = new(0);
    private readonly IConsumer<byte[]?, byte[]?> _consumer;
    private readonly OutcomePublisher _publisher;
    private readonly OutcomeDelivery _delivery;
    private readonly ExactlyOnceDelivery? _exactlyOnce;
    private readonly UploadTasks _tasks;
    private readonly HashSet<TopicPartition> _paused = [];
    private readonly HashSet<TopicPartition> _newlyAssigned = [];
    private long _assignmentChanges;
    // Paused because too much of their work is finished but held back behind one slow upload (not committable).
    private readonly HashSet<TopicPartition> _heldBack = [];
    // Bumped when a partition is forgotten (revoked, lost) or rewound (abort): completions of work dispatched
    // under an older generation are dropped, so stale outcomes never reach a later transaction or the tracker.
    private readonly Dictionary<TopicPartition, int> _generations = [];
    private bool _draining;
    private bool _awaitingCapacity;
    // Real time since in-flight work first reached the limit without pausing (-1: not full).
    private long _fullSince = -1;

    /// <summary>How long the loop stops taking records at the in-flight limit before it pauses the partitions. Pausing
    /// empties librdkafka's prefetch queue and a resume takes up to ~0.7 s to deliver again (bench e2e's cache hits); work
    /// that finishes within this never pauses. Rebalances wait at most this long (they are served inside the poll).</summary>
    private static readonly TimeSpan FullGrace = TimeSpan.FromMilliseconds(250);

    private long _inFlightBytes;
    private int _inFlightCount;
    private volatile Exception? _fatal;
    private volatile bool _crashed;
    private long _consumed;
    private int _disposed;
    private readonly KeyValuePair<string, object?>[] _tags;
    private IReadOnlyDictionary<TopicPartition, long> _lag = new Dictionary<TopicPartition, long>();
    private long _lagMeasured;
    private volatile bool _brokersDown;
    private long _clientErrors;
    private readonly LogThrottle _logThrottle;

    private sealed record Completion(TopicPartition Partition, long Offset, int Bytes, int Epoch, IReadOnlyList<OutboundMessage>? Held);

    /// <param name="time">The clock of intervals and deadlines; <see cref="TimeProvider.System"/> by default.</param>
    public UploadConsumer(KafkaOptions options, IUploadHandler handler, ILogger logger, TimeProvider? time = null)
    {
        _options = options;
        _handler = handler;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _logThrottle = new LogThrottle(KafkaClientLog.Interval, _time);
        _tags =
        [
            new("messaging.system", "kafka"),
            new("messaging.destination.name", options.UploadsTopic),
            new("messaging.consumer.group.name", options.GroupId),
        ];
        _tasks = new UploadTasks(e => _fatal ??= e);
        _consumer = new ConsumerBuilder<byte[]?, byte[]?>(KafkaClientConfig.Consumer(options))
            .SetPartitionsAssignedHandler((_, partitions) =>
            {
                _logger.LogInformation("Assigned {Partitions}", string.Join(",", partitions.Select(p => p.Partition.Value)));
                Interlocked.Increment(ref _assignmentChanges);
                // librdkafka keeps a partition's pause flag across revoke and reassign: settle it on the next loop turn.
                _newlyAssigned.UnionWith(partitions);
            })
            .SetPartitionsRevokedHandler((_, partitions) => OnRevoked(partitions))
            .SetPartitionsLostHandler((_, partitions) => OnLost(partitions))
            .SetErrorHandler((_, error) => OnClientError("consumer", error))
            .SetLogHandler((_, message) => KafkaClientLog.Log(_logger, _logThrottle, "consumer", message))
            .Build();
        _publisher = new OutcomePublisher(
            options.ExactlyOnce ? KafkaClientConfig.TransactionalProducer(options) : KafkaClientConfig.Producer(options),
            options.DlqTopic, logger, error => OnClientError("producer", error), e => _fatal ??= e, _time,
            message => KafkaClientLog.Log(_logger, _logThrottle, "producer", message));
        _delivery = options.ExactlyOnce
            ? _exactlyOnce = new ExactlyOnceDelivery(_publisher, _consumer, options, logger, _time, DropInFlight, Fail)
            : new AtLeastOnceDelivery(_publisher, _consumer, _tracker, logger, options.CommitInterval, _time);
        KafkaTelemetry.Register(this);
    }

    public string GroupId => _options.GroupId;

    /// <summary>Consumer lag per assigned partition (high watermark minus the stored offset), refreshed each second.</summary>
    public IReadOnlyDictionary<TopicPartition, long> Lag => _lag;

    /// <summary>False while librdkafka reports every broker down; for readiness.</summary>
    public bool BrokersReachable => !_brokersDown;

    /// <summary>Partitions currently assigned to this worker.</summary>
    public int AssignedPartitions { get; private set; }

    public long Consumed => Interlocked.Read(ref _consumed);
    public long Published => _publisher.Published;
    public long TransactionsCommitted => _exactlyOnce?.TransactionsCommitted ?? 0;
    public long TransactionsAborted => _exactlyOnce?.TransactionsAborted ?? 0;

    /// <summary>Exactly-once: uploads whose outcomes and offsets are in committed transactions.</summary>
    public long UploadsCommitted => _exactlyOnce?.UploadsCommitted ?? 0;

    /// <summary>Stub DLQ records published in place of outcomes the broker refused.</summary>
    public long Stubs => _publisher.Stubs;

    /// <summary>Client-level errors librdkafka reported (each is logged at most once per kind per <see cref="KafkaClientLog.Interval"/>).</summary>
    public long ClientErrors => Interlocked.Read(ref _clientErrors);

    /// <summary>Optional records (<see cref="OutboundMessage.Optional"/>: shadow decisions) that could not be delivered and were dropped.</summary>
    public long OptionalDropped => _publisher.OptionalDropped;

    /// <summary>Completes when the consumer has stopped publishing (a fatal error, the end of <see cref="RunAsync"/>
    /// or <see cref="Dispose"/>) and no upload's task is running any more.</summary>
    public Task Idle => _tasks.Idle;

    /// <summary>Uploads received but not yet finished.</summary>
    public int InFlight => Volatile.Read(ref _inFlightCount);

    /// <summary>Rebalance callbacks this member has seen (each assignment and each revocation, incremental ones
    /// included): a member whose count does not move kept its partitions through a peer's restart.</summary>
    public long AssignmentChanges => Interlocked.Read(ref _assignmentChanges);

    /// <summary>Partitions currently paused by backpressure.</summary>
    public int PausedPartitions { get; private set; }

    /// <summary>Runs until <paramref name="stoppingToken"/> fires (then drains, commits and returns) or a fatal error (throws).</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        try
        {
            _delivery.Start();
            _consumer.Subscribe(_options.UploadsTopic);
            _logger.LogInformation("Consuming {Topic} as group {Group} from {Servers} ({Mode})",
                _options.UploadsTopic, _options.GroupId, _options.BootstrapServers, _options.Mode);
            while (!stoppingToken.IsCancellationRequested)
            {
                ThrowIfFatal();
                DrainCompletions();
                _delivery.Tick();
                ApplyBackpressure();
                MeasureLag();
                if (_fullSince >= 0 && _paused.Count == 0)
                {
                    // At the limit, not yet paused: wait for a completion instead of taking more records.
                    Volatile.Write(ref _awaitingCapacity, true);
                    _completionSignal.Wait(PausedPollSlice); // no token: a stop is seen by the loop, which then drains and commits
                    Volatile.Write(ref _awaitingCapacity, false);
                    continue;
                }
                ConsumeResult<byte[]?, byte[]?>? result;
                try
                {
                    result = _consumer.Consume(_paused.Count > 0 || _heldBack.Count > 0 ? PausedPollSlice : PollSlice);
                }
                catch (ConsumeException e) when (!e.Error.IsFatal)
                {
                    KafkaClientLog.Error(_logger, _logThrottle, "Consume", e.Error);
                    continue;
                }
                if (result?.Message is null) continue;
                Dispatch(result);
            }
            await DrainAsync(_consumer.Assignment, "shutdown").ConfigureAwait(false);
            _delivery.Flush();
            DrainCompletions();
            _delivery.CommitFinished();
            _consumer.Close(); // may still drain and commit revoked partitions: the producer is needed until here
            // Uploads still in flight after the drain are redelivered to the next owner: they publish nothing more.
            CloseProducer();
            _logger.LogInformation("Stopped after {Consumed} uploads, {Published} records published", Consumed, Published);
        }
        catch
        {
            // A crashed pipeline commits nothing more: what was not acknowledged is redelivered.
            _crashed = true;
            await StopAfterFailureAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>After a fatal error: nothing more is produced, in-flight screening is cancelled, and its tasks are
    /// waited for at most <see cref="KafkaOptions.ShutdownTimeout"/> (longer ones are abandoned: the produce gate
    /// keeps them off the producer whenever they end).</summary>
    private async Task StopAfterFailureAsync()
    {
        CloseProducer();
        int abandoned = await _tasks.CancelAsync(_options.ShutdownTimeout, _time).ConfigureAwait(false);
        if (abandoned > 0)
            _logger.LogWarning("Stopping after a failure: {Count} uploads still being screened after {Timeout} are abandoned (redelivered after restart)",
                abandoned, _options.ShutdownTimeout);
    }

    private void CloseProducer()
    {
        _publisher.Close();
        _tasks.Close();
    }

    private void OnClientError(string client, Error error)
    {
        Interlocked.Increment(ref _clientErrors);
        if (error.Code == ErrorCode.Local_AllBrokersDown) _brokersDown = true;
        if (error.IsFatal) _fatal ??= new KafkaException(error);
        KafkaClientLog.Error(_logger, _logThrottle, "Kafka " + client, error);
    }

    private void ThrowIfFatal()
    {
        if (_fatal is { } fatal) throw new InvalidOperationException("The screening pipeline failed: " + fatal.Message, fatal);
    }

    private void Fail(Exception e)
    {
        _fatal ??= e;
        ThrowIfFatal();
    }

    private void Dispatch(ConsumeResult<byte[]?, byte[]?> result)
    {
        Interlocked.Increment(ref _consumed);
        _brokersDown = false;
        KafkaTelemetry.Consumed.Add(1, _tags);
        int bytes = (result.Message.Value?.Length ?? 0) + (result.Message.Key?.Length ?? 0);
        _delivery.Dispatched(result.TopicPartition, result.Offset.Value);
        _tracker.Begin(result.TopicPartition, result.Offset.Value);
        Interlocked.Increment(ref _inFlightCount);
        _inFlightBytes += bytes;
        int epoch = _generations.GetValueOrDefault(result.TopicPartition);
        long started = _time.GetTimestamp();
        _tasks.Start(ct => ProcessAsync(result, bytes, epoch, started, ct));
    }

    private async Task ProcessAsync(ConsumeResult<byte[]?, byte[]?> upload, int bytes, int epoch, long started, CancellationToken ct)
    {
        IReadOnlyList<OutboundMessage> outcome;
        try
        {
            outcome = await _handler.HandleAsync(upload, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return; // abandoned by a stop after a failure: redelivered after restart
        }
        catch (Exception e)
        {
            // The service failed, not the input: fail closed as the handler's policy says, else into the DLQ ('internal').
            _logger.LogError(e, "Internal error screening {TopicPartitionOffset}", upload.TopicPartitionOffset);
            outcome = Unhandled(upload, e);
        }
        KafkaTelemetry.CountDeadLetters(outcome, _options.DlqTopic);
        StampDecisionIds(upload, outcome);
        _delivery.Deliver(upload, outcome, held =>
        {
            KafkaTelemetry.Duration.Record(_time.GetElapsedTime(started).TotalSeconds, _tags);
            _completed.Enqueue(new Completion(upload.TopicPartition, upload.Offset.Value, bytes, epoch, held));
            if (Volatile.Read(ref _draining) || Volatile.Read(ref _awaitingCapacity)) _completionSignal.Release();
        });
    }

    private IReadOnlyList<OutboundMessage> Unhandled(ConsumeResult<byte[]?, byte[]?> upload, Exception error)
    {
        try
        {
            if (_handler.Unhandled(upload, error) is { } outcome) return outcome;
        }
        catch (Exception e)
        {
            _logger.LogError(e, "The handler's outcome for a failed upload at {TopicPartitionOffset} failed too", upload.TopicPartitionOffset);
        }
        return [DeadLetter.Create(_options, upload, Contracts.ErrorCodes.Internal, error.Message)];
    }

    /// <summary>Every outcome record carries a <see cref="DecisionId"/>; the handler's own (with its policy and model
    /// versions) is kept, a record without one (the internal DLQ record above) gets one of the upload alone.</summary>
    private static void StampDecisionIds(ConsumeResult<byte[]?, byte[]?> upload, IReadOnlyList<OutboundMessage> outcome)
    {
        foreach (var record in outcome)
        {
            if (record.Headers.TryGetLastBytes(DecisionId.Header, out _)) continue;
            string contentId = upload.Message.Key is { } key ? System.Text.Encoding.UTF8.GetString(key) : "";
            record.Headers.Add(DecisionId.Header, System.Text.Encoding.ASCII.GetBytes(
                DecisionId.For(contentId, upload.Topic, upload.Partition.Value, upload.Offset.Value, "", "")));
        }
    }

    private void DrainCompletions()
    {
        while (_completed.TryDequeue(out var done))
        {
            Interlocked.Decrement(ref _inFlightCount);
            _inFlightBytes -= done.Bytes;
            if (done.Epoch != _generations.GetValueOrDefault(done.Partition)) continue; // revoked, lost or rewound meanwhile: redone by its owner
            _delivery.Finished(done.Partition, done.Offset, done.Held);
            if (_tracker.Complete(done.Partition, done.Offset) is { } next) _delivery.Advanced(done.Partition, next);
        }
    }

    /// <summary>Forgets every upload in flight (an exactly-once abort rewinds the partitions): their completions are dropped.</summary>
    private void DropInFlight()
    {
        foreach (var partition in _consumer.Assignment.Concat(_tracker.Partitions).Distinct().ToList())
            _generations[partition] = _generations.GetValueOrDefault(partition) + 1;
        foreach (var partition in _tracker.Partitions.ToList()) _tracker.Forget(partition);
    }

    private void MeasureLag()
    {
        if (_time.GetElapsedTime(_lagMeasured) < TimeSpan.FromSeconds(1)) return;
        _lagMeasured = _time.GetTimestamp();
        var lag = new Dictionary<TopicPartition, long>();
        var assignment = _consumer.Assignment;
        AssignedPartitions = assignment.Count;
        foreach (var partition in assignment)
        {
            var high = _consumer.GetWatermarkOffsets(partition).High;
            if (high == Offset.Unset) continue;
            long committed = _tracker.CommittableOffset(partition)
                ?? (_consumer.Position(partition) is { } position && position != Offset.Unset ? position.Value : high.Value);
            lag[partition] = Math.Max(0, high.Value - committed);
        }
        _lag = lag;
    }

    private void ApplyBackpressure()
    {
        // Counted at dispatch and at completion, so work of forgotten or rewound partitions still running counts too.
        int inFlight = _inFlightCount;
        bool full = inFlight >= _options.MaxInFlight || _inFlightBytes >= _options.MaxInFlightBytes;
        bool drained = inFlight <= _options.MaxInFlight / 2 && _inFlightBytes <= _options.MaxInFlightBytes / 2;
        if (!full) _fullSince = -1;
        else if (_fullSince < 0) _fullSince = System.Diagnostics.Stopwatch.GetTimestamp();
        if (full && System.Diagnostics.Stopwatch.GetElapsedTime(_fullSince) >= FullGrace)
        {
            // Every assigned partition, including ones assigned while already paused (incremental rebalance).
            var toPause = _consumer.Assignment.Where(p => !_paused.Contains(p)).ToList();
            if (toPause.Count > 0)
            {
                _consumer.Pause(toPause);
                _paused.UnionWith(toPause);
                _logger.LogDebug("Paused {Count} partitions at {InFlight} in flight", toPause.Count, inFlight);
            }
        }
        else if (_newlyAssigned.Count > 0)
        {
            var assigned = _consumer.Assignment.Where(_newlyAssigned.Contains).Where(p => !_paused.Contains(p) && !_heldBack.Contains(p)).ToList();
            if (assigned.Count > 0) _consumer.Resume(assigned);
        }
        _newlyAssigned.Clear();
        if (!full && drained && _paused.Count > 0)
        {
            var assigned = _consumer.Assignment.Where(p => _paused.Contains(p) && !_heldBack.Contains(p)).ToList();
            if (assigned.Count > 0) _consumer.Resume(assigned);
            _paused.Clear();
        }
        LimitUncommitted();
        PausedPartitions = _paused.Union(_heldBack).Count();
    }

    /// <summary>A partition stops fetching while <see cref="KafkaOptions.MaxInFlight"/> of its uploads are not yet
    /// committable (in flight, or finished behind one that is), and resumes at half: one slow upload can hold back its
    /// partition's commits, and without this bound a crash would then re-screen everything finished behind it.</summary>
    private void LimitUncommitted()
    {
        // Held-back partitions the tracker forgot (an exactly-once rewind) count as empty and resume.
        foreach (var partition in _tracker.Partitions.Concat(_heldBack).Distinct().ToList())
        {
            int uncommitted = _tracker.UncommittedIn(partition);
            if (uncommitted >= _options.MaxInFlight && _heldBack.Add(partition))
            {
                if (!_paused.Contains(partition)) _consumer.Pause([partition]);
                _logger.LogDebug("Paused {Partition}: {Count} uploads not yet committable", partition, uncommitted);
            }
            else if (uncommitted <= _options.MaxInFlight / 2 && _heldBack.Remove(partition) && !_paused.Contains(partition))
                _consumer.Resume([partition]);
        }
    }

    private void OnRevoked(List<TopicPartitionOffset> revoked)
    {
        if (_crashed)
        {
            OnLost(revoked);
            return;
        }
        Interlocked.Increment(ref _assignmentChanges);
        var partitions = revoked.Select(p => p.TopicPartition).ToList();
        _logger.LogInformation("Revoked {Partitions}: draining", string.Join(",", partitions.Select(p => p.Partition.Value)));
        // What already finished is committed first, while the group still takes commits (it refuses them once a member
        // rejoins and the next rebalance starts: a drain can outlast that); what the drain finishes, after it.
        DrainCompletions();
        _delivery.Revoking(partitions);
        // Runs on the poll thread inside Consume: waiting here is bounded by ShutdownTimeout.
        DrainAsync(partitions, "revoke").GetAwaiter().GetResult();
        _delivery.Revoked(partitions);
        Forget(partitions);
    }

    private void OnLost(List<TopicPartitionOffset> lost)
    {
        Interlocked.Increment(ref _assignmentChanges);
        _logger.LogWarning("Lost {Partitions}: dropped without commit", string.Join(",", lost.Select(p => p.Partition.Value)));
        var partitions = lost.Select(p => p.TopicPartition).ToList();
        if (!_crashed) _delivery.Lost(partitions);
        Forget(partitions);
    }

    private void Forget(IEnumerable<TopicPartition> partitions)
    {
        foreach (var p in partitions)
        {
            _generations[p] = _generations.GetValueOrDefault(p) + 1;
            _tracker.Forget(p);
            _paused.Remove(p);
            _heldBack.Remove(p);
            _delivery.Forget(p);
        }
    }

    private async Task DrainAsync(IReadOnlyCollection<TopicPartition> partitions, string why)
    {
        Volatile.Write(ref _draining, true);
        try
        {
            await DrainCoreAsync(partitions, why).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _draining, false);
        }
    }

    private async Task DrainCoreAsync(IReadOnlyCollection<TopicPartition> partitions, string why)
    {
        long started = _time.GetTimestamp();
        while (partitions.Any(p => _tracker.PendingIn(p) > 0))
        {
            ThrowIfFatal();
            var left = _options.ShutdownTimeout - _time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                _logger.LogWarning("{Why}: {Count} uploads still in flight after {Timeout}; they will be redelivered",
                    why, partitions.Sum(_tracker.PendingIn), _options.ShutdownTimeout);
                return;
            }
            await _completionSignal.WaitAsync(left < PollSlice ? left : PollSlice).ConfigureAwait(false);
            DrainCompletions();
        }
    }

    /// <summary>Call after <see cref="RunAsync"/> returned or threw. Upload tasks still running are cancelled and kept
    /// off the producer; the consumer is closed and disposed, then the producer.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        KafkaTelemetry.Unregister(this);
        CloseProducer();
        _tasks.Cancel();
        _consumer.Dispose();
        _publisher.Dispose();
        // _completionSignal stays undisposed: late upload tasks and delivery reports may still touch it.
    }
}
