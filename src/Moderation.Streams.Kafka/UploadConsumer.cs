using System.Collections.Concurrent;
using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Moderation.Streams.Kafka;

/// <summary>
/// The consume loop: a single thread that polls, hands each upload to the <see cref="IUploadHandler"/> (many
/// run concurrently on the thread pool) and publishes their outcomes. It never blocks on the work:
/// backpressure pauses partitions and the loop keeps polling, so group membership stays alive.
/// <para>At-least-once (default): outcomes are produced as soon as they are ready (idempotent producer,
/// acks=all); an upload's offset is stored only after every record it produced was acknowledged, gap-free
/// per partition; offsets are auto-committed from the store.</para>
/// <para>Exactly-once: outcomes are held until every earlier upload of the partition is done, then produced in
/// offset order inside a transaction that also carries the consumed offsets (<c>SendOffsetsToTransaction</c>);
/// a transaction is committed every <see cref="KafkaOptions.TransactionInterval"/>. An abortable error aborts
/// it and rewinds the partitions to the last committed offsets; a fenced producer (a newer instance with the
/// same transactional id) stops this one.</para>
/// <para>No single record stops a partition: an outcome the broker refuses for good as a record (too large, invalid)
/// is replaced by a stub DLQ record (<see cref="OutcomePublisher"/>) so the upload's offset still commits; only when
/// the stub is refused too is it fatal. A fatal error stops in order: consuming stops, in-flight screening is
/// cancelled and waited for (at most <see cref="KafkaOptions.ShutdownTimeout"/>), nothing more is produced, and
/// <see cref="Dispose"/> disposes the consumer, then the producer, after the last produce call returned.</para>
/// </summary>
public sealed class UploadConsumer : IDisposable
{
    private readonly KafkaOptions _options;
    private readonly IUploadHandler _handler;
    private readonly ILogger _logger;
    private readonly OffsetTracker _tracker = new();
    private readonly ConcurrentQueue<Completion> _completed = new();
    private readonly SemaphoreSlim _completionSignal = new(0);
    private readonly IConsumer<byte[]?, byte[]?> _consumer;
    private readonly IProducer<byte[]?, byte[]?> _producer;
    private readonly HashSet<TopicPartition> _paused = [];
    private readonly bool _transactional;

    // Exactly-once state, owned by the poll thread.
    private readonly Dictionary<TopicPartition, SortedDictionary<long, IReadOnlyList<OutboundMessage>>> _held = [];
    private readonly Dictionary<TopicPartition, long> _transactionOffsets = [];
    private readonly Dictionary<TopicPartition, long> _rewindTo = [];
    private int _transactionUploads;
    private bool _abortPending;
    private long _transactionStarted;
    // Bumped when a partition is forgotten (revoked, lost) or rewound (abort): completions of work dispatched
    // under an older generation are dropped, so stale outcomes never reach a later transaction or the tracker.
    private readonly Dictionary<TopicPartition, int> _generations = [];
    // Outcomes the broker refused as records inside a transaction (delivery reports): the transaction aborts, and
    // when their uploads are released again, stubs take their place, so a poison record costs one abort, not a loop.
    private readonly ConcurrentQueue<(TopicPartitionOffset Source, string Topic, Error Error)> _refusedInTransaction = new();
    private readonly Dictionary<(TopicPartitionOffset Source, string Topic), Error> _refusedBefore = [];
    private bool _draining;
    private readonly HashSet<TopicPartition> _newlyAssigned = [];
    private bool _commitInProgress;

    private long _inFlightBytes;
    private int _inFlightCount;
    private volatile Exception? _fatal;
    private volatile bool _crashed;
    private long _consumed, _published, _transactionsCommitted, _transactionsAborted, _uploadsCommitted;
    private readonly OutcomePublisher _publisher;

    // Orderly stop: handlers get this token (cancelled by a fatal error or Dispose); produce calls pass a gate that
    // closes before the producer is disposed; Idle completes once the gate is closed and no upload task is left.
    private readonly CancellationTokenSource _stopWork = new();
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _running, _disposed;
    private readonly KeyValuePair<string, object?>[] _tags;
    private IReadOnlyDictionary<TopicPartition, long> _lag = new Dictionary<TopicPartition, long>();
    private long _lagMeasured;
    private volatile bool _brokersDown;

    private sealed record Completion(TopicPartition Partition, long Offset, int Bytes, int Epoch, IReadOnlyList<OutboundMessage>? Held);

    public UploadConsumer(KafkaOptions options, IUploadHandler handler, ILogger logger)
    {
        _options = options;
        _handler = handler;
        _logger = logger;
        _transactional = options.ExactlyOnce;
        _tags =
        [
            new("messaging.system", "kafka"),
            new("messaging.destination.name", options.UploadsTopic),
            new("messaging.consumer.group.name", options.GroupId),
        ];
        _consumer = new ConsumerBuilder<byte[]?, byte[]?>(ConsumerConfig(options))
            .SetPartitionsAssignedHandler((_, partitions) =>
            {
                _logger.LogInformation("Assigned {Partitions}", string.Join(",", partitions.Select(p => p.Partition.Value)));
                // librdkafka keeps a partition's pause flag across revoke and reassign: settle it on the next loop turn.
                _newlyAssigned.UnionWith(partitions);
            })
            .SetPartitionsRevokedHandler((_, partitions) => OnRevoked(partitions))
            .SetPartitionsLostHandler((_, partitions) => OnLost(partitions))
            .SetErrorHandler((_, error) => OnClientError("consumer", error))
            .Build();
        _producer = new ProducerBuilder<byte[]?, byte[]?>(ProducerConfig(options))
            .SetErrorHandler((_, error) => OnClientError("producer", error))
            .Build();
        _publisher = new OutcomePublisher(_producer, options.DlqTopic, logger, e => _fatal ??= e);
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
    public long Published => Interlocked.Read(ref _published);
    public long TransactionsCommitted => Interlocked.Read(ref _transactionsCommitted);
    public long TransactionsAborted => Interlocked.Read(ref _transactionsAborted);

    /// <summary>Exactly-once: uploads whose outcomes and offsets are in committed transactions.</summary>
    public long UploadsCommitted => Interlocked.Read(ref _uploadsCommitted);

    /// <summary>Stub DLQ records published in place of outcomes the broker refused.</summary>
    public long Stubs => _publisher.Stubs;

    /// <summary>Completes when the consumer has stopped publishing (a fatal error, the end of <see cref="RunAsync"/>
    /// or <see cref="Dispose"/>) and no upload's task is running any more.</summary>
    public Task Idle => _idle.Task;

    /// <summary>Uploads received but not yet finished.</summary>
    public int InFlight => Volatile.Read(ref _inFlightCount);

    /// <summary>Partitions currently paused by backpressure.</summary>
    public int PausedPartitions { get; private set; }

    public static ConsumerConfig ConsumerConfig(KafkaOptions options) => new(KafkaSecurity.Properties(options))
    {
        BootstrapServers = options.BootstrapServers,
        GroupId = options.GroupId,
        // Exactly-once commits offsets inside the producer's transactions, never from the consumer.
        EnableAutoCommit = !options.ExactlyOnce,
        AutoCommitIntervalMs = options.AutoCommitIntervalMs,
        EnableAutoOffsetStore = false,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
        SessionTimeoutMs = options.SessionTimeoutMs,
        MaxPollIntervalMs = options.MaxPollIntervalMs,
        EnablePartitionEof = false,
        GroupInstanceId = options.GroupInstanceId,
        IsolationLevel = IsolationLevel.ReadCommitted,
    };

    public static ProducerConfig ProducerConfig(KafkaOptions options)
    {
        var config = new ProducerConfig(KafkaSecurity.Properties(options))
        {
            BootstrapServers = options.BootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 5,
            MessageTimeoutMs = 120_000,
        };
        if (options.ExactlyOnce)
        {
            config.TransactionalId = options.TransactionalId ?? $"{options.GroupId}-{Environment.MachineName}";
            config.TransactionTimeoutMs = 60_000;
            config.MessageTimeoutMs = 60_000; // must not exceed the transaction timeout
        }
        return config;
    }

    /// <summary>Runs until <paramref name="stoppingToken"/> fires (then drains, commits and returns) or a fatal error (throws).</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        try
        {
            if (_transactional)
            {
                _producer.InitTransactions(TimeSpan.FromSeconds(30));
                BeginTransaction();
            }
            _consumer.Subscribe(_options.UploadsTopic);
            _logger.LogInformation("Consuming {Topic} as group {Group} from {Servers} ({Mode})",
                _options.UploadsTopic, _options.GroupId, _options.BootstrapServers, _options.Mode);
            while (!stoppingToken.IsCancellationRequested)
            {
                ThrowIfFatal();
                DrainCompletions();
                if (_abortPending)
                {
                    AbortAndRewind();
                    BeginTransaction();
                }
                if (_transactional) MaybeCommitTransaction(force: false);
                ApplyBackpressure();
                MeasureLag();
                ConsumeResult<byte[]?, byte[]?>? result;
                try
                {
                    result = _consumer.Consume(TimeSpan.FromMilliseconds(100));
                }
                catch (ConsumeException e) when (!e.Error.IsFatal)
                {
                    _logger.LogWarning("Consume: {Reason}", e.Error.Reason);
                    continue;
                }
                if (result?.Message is null) continue;
                Dispatch(result);
            }
            await DrainAsync(_consumer.Assignment, "shutdown").ConfigureAwait(false);
            if (_transactional)
            {
                MaybeCommitTransaction(force: true);
            }
            else
            {
                _producer.Flush(TimeSpan.FromSeconds(10));
                DrainCompletions();
                CommitStored();
            }
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
        await _stopWork.CancelAsync().ConfigureAwait(false);
        try
        {
            await _idle.Task.WaitAsync(_options.ShutdownTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            _logger.LogWarning("Stopping after a failure: {Count} uploads still being screened after {Timeout} are abandoned (redelivered after restart)",
                Volatile.Read(ref _running), _options.ShutdownTimeout);
        }
    }

    private void CloseProducer()
    {
        _publisher.Close();
        if (Volatile.Read(ref _running) == 0) _idle.TrySetResult();
    }

    private void OnClientError(string client, Error error)
    {
        if (error.Code == ErrorCode.Local_AllBrokersDown) _brokersDown = true;
        if (error.IsFatal) _fatal ??= new KafkaException(error);
        _logger.Log(error.IsFatal ? LogLevel.Critical : LogLevel.Warning, "Kafka {Client}: {Reason}", client, error.Reason);
    }

    private void ThrowIfFatal()
    {
        if (_fatal is { } fatal) throw new InvalidOperationException("The screening pipeline failed: " + fatal.Message, fatal);
    }

    private void Dispatch(ConsumeResult<byte[]?, byte[]?> result)
    {
        Interlocked.Increment(ref _consumed);
        _brokersDown = false;
        KafkaTelemetry.Consumed.Add(1, _tags);
        int bytes = (result.Message.Value?.Length ?? 0) + (result.Message.Key?.Length ?? 0);
        if (_transactional && !_rewindTo.ContainsKey(result.TopicPartition))
            _rewindTo[result.TopicPartition] = result.Offset.Value;
        _tracker.Begin(result.TopicPartition, result.Offset.Value);
        Interlocked.Increment(ref _inFlightCount);
        _inFlightBytes += bytes;
        int epoch = _generations.GetValueOrDefault(result.TopicPartition);
        long started = Stopwatch.GetTimestamp();
        Interlocked.Increment(ref _running);
        _ = Task.Run(() => ProcessAsync(result, bytes, epoch, started));
    }

    private async Task ProcessAsync(ConsumeResult<byte[]?, byte[]?> upload, int bytes, int epoch, long started)
    {
        try
        {
            await ProcessCoreAsync(upload, bytes, epoch, started).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _fatal ??= e;
        }
        finally
        {
            if (Interlocked.Decrement(ref _running) == 0 && _publisher.Closed) _idle.TrySetResult();
        }
    }

    private async Task ProcessCoreAsync(ConsumeResult<byte[]?, byte[]?> upload, int bytes, int epoch, long started)
    {
        IReadOnlyList<OutboundMessage> outcome;
        try
        {
            outcome = await _handler.HandleAsync(upload, _stopWork.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopWork.IsCancellationRequested)
        {
            return; // abandoned by a stop after a failure: redelivered after restart
        }
        catch (Exception e)
        {
            // The service failed, not the input: fail closed into the DLQ with code 'internal'.
            _logger.LogError(e, "Internal error screening {TopicPartitionOffset}", upload.TopicPartitionOffset);
            outcome = [DeadLetter.Create(_options, upload, Contracts.ErrorCodes.Internal, e.Message)];
        }

        if (_transactional)
        {
            // Produced later by the poll thread, in offset order, inside a transaction.
            KafkaTelemetry.Duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, _tags);
            Complete(new Completion(upload.TopicPartition, upload.Offset.Value, bytes, epoch, outcome));
            return;
        }
        var done = new Completion(upload.TopicPartition, upload.Offset.Value, bytes, epoch, null);
        int remaining = outcome.Count;
        if (remaining == 0)
        {
            Complete(done, started);
            return;
        }
        foreach (var message in outcome)
        {
            if (!_publisher.Publish(upload.TopicPartitionOffset, upload.Message.Key, message, () =>
            {
                Interlocked.Increment(ref _published);
                if (Interlocked.Decrement(ref remaining) == 0) Complete(done, started);
            })) return;
        }
    }

    private void Complete(Completion completion, long started)
    {
        KafkaTelemetry.Duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, _tags);
        Complete(completion);
    }

    private void Complete(Completion completion)
    {
        _completed.Enqueue(completion);
        if (Volatile.Read(ref _draining)) _completionSignal.Release();
    }

    private void DrainCompletions()
    {
        while (_completed.TryDequeue(out var done))
        {
            Interlocked.Decrement(ref _inFlightCount);
            _inFlightBytes -= done.Bytes;
            if (done.Epoch != _generations.GetValueOrDefault(done.Partition)) continue; // revoked, lost or rewound meanwhile: redone by its owner
            if (_transactional)
            {
                if (!_held.TryGetValue(done.Partition, out var held)) _held[done.Partition] = held = [];
                held[done.Offset] = done.Held!;
            }
            var next = _tracker.Complete(done.Partition, done.Offset);
            if (next is null) continue;
            if (_transactional)
            {
                if (!_abortPending) ReleaseHeld(done.Partition, next.Value);
                continue;
            }
            try
            {
                _consumer.StoreOffset(new TopicPartitionOffset(done.Partition, new Offset(next.Value)));
            }
            catch (KafkaException e)
            {
                // The partition was revoked meanwhile; its new owner re-screens from the committed offset.
                _logger.LogDebug("StoreOffset {Partition}: {Reason}", done.Partition, e.Error.Reason);
            }
        }
    }

    /// <summary>Exactly-once: produces, in offset order, the held outcomes below the new committable offset.</summary>
    private void ReleaseHeld(TopicPartition partition, long upTo)
    {
        var held = _held[partition];
        while (held.Count > 0)
        {
            var (offset, outcome) = held.First();
            if (offset >= upTo) break;
            held.Remove(offset);
            try
            {
                var source = new TopicPartitionOffset(partition, new Offset(offset));
                while (_refusedInTransaction.TryDequeue(out var refused)) _refusedBefore[(refused.Source, refused.Topic)] = refused.Error;
                foreach (var message in outcome)
                {
                    Action<DeliveryReport<byte[]?, byte[]?>> counted = report =>
                    {
                        if (!report.Error.IsError) Interlocked.Increment(ref _published);
                        // The transaction is aborted and this upload screened again: its stub goes instead, once.
                        else if (OutcomePublisher.IsRefusedRecord(report.Error.Code)) _refusedInTransaction.Enqueue((source, message.Topic, report.Error));
                    };
                    bool produced;
                    if (_refusedBefore.Remove((source, message.Topic), out var before))
                    {
                        produced = _publisher.TryProduce(_publisher.StubFor(source, message.Key, message, before), counted);
                    }
                    else
                    {
                        try
                        {
                            produced = _publisher.TryProduce(message, counted);
                        }
                        catch (KafkaException e) when (OutcomePublisher.IsRefusedRecord(e.Error.Code))
                        {
                            // Refused before it joined the transaction (librdkafka's own size check): the stub takes its place.
                            produced = _publisher.TryProduce(_publisher.StubFor(source, message.Key, message, e.Error), counted);
                        }
                    }
                    // Stopped: this partition's offsets stay where they are (its outcomes are redone by the next owner).
                    if (!produced) return;
                }
            }
            catch (KafkaException e) when (!e.Error.IsFatal)
            {
                // An earlier record of this transaction failed: the producer refuses more until it is aborted.
                _logger.LogWarning("Transaction needs an abort ({Reason}): rewinding to the last committed offsets", e.Error.Reason);
                _abortPending = true;
                return;
            }
            _transactionUploads++;
        }
        _transactionOffsets[partition] = upTo;
    }

    private void BeginTransaction()
    {
        _producer.BeginTransaction();
        _transactionStarted = Stopwatch.GetTimestamp();
        _transactionUploads = 0;
    }

    /// <returns>False when a transaction with work in it is still open (its commit failed and will be retried).</returns>
    private bool MaybeCommitTransaction(bool force)
    {
        if (_transactionOffsets.Count == 0) return true;
        if (!force && _transactionUploads < _options.TransactionMaxUploads
            && Stopwatch.GetElapsedTime(_transactionStarted) < _options.TransactionInterval) return true;
        var offsets = _transactionOffsets.Select(kv => new TopicPartitionOffset(kv.Key, new Offset(kv.Value))).ToList();
        try
        {
            // After a retriable commit failure only the commit is retried: the offsets are already in the transaction.
            if (!_commitInProgress) _producer.SendOffsetsToTransaction(offsets, _consumer.ConsumerGroupMetadata, TimeSpan.FromSeconds(30));
            _commitInProgress = true;
            _producer.CommitTransaction(TimeSpan.FromSeconds(30));
            _commitInProgress = false;
            Interlocked.Increment(ref _transactionsCommitted);
            Interlocked.Add(ref _uploadsCommitted, _transactionUploads);
            foreach (var o in offsets) _rewindTo[o.TopicPartition] = o.Offset.Value;
            _transactionOffsets.Clear();
        }
        catch (KafkaTxnRequiresAbortException e)
        {
            _logger.LogWarning("Transaction aborted ({Reason}): rewinding to the last committed offsets", e.Error.Reason);
            AbortAndRewind();
        }
        catch (KafkaRetriableException e)
        {
            // Commit outcome unknown but retriable: keep the transaction open and try again next round.
            _logger.LogWarning("Transaction commit will be retried: {Reason}", e.Error.Reason);
            return false;
        }
        catch (KafkaException e) when (e.Error.IsFatal || e.Error.Code is ErrorCode.ProducerFenced or ErrorCode.InvalidProducerEpoch)
        {
            // A newer instance took over this transactional id: this one is a zombie and must stop.
            _fatal ??= e;
            ThrowIfFatal();
        }
        catch (KafkaException e)
        {
            // Anything else leaves the transaction in an unknown state: abort it and re-screen from the last commit.
            _logger.LogWarning("Transaction failed ({Reason}): aborting and rewinding", e.Error.Reason);
            AbortAndRewind();
        }
        BeginTransaction();
        return true;
    }

    /// <summary>Exactly-once: aborts the open transaction and re-screens everything after the last committed offsets.</summary>
    private void AbortAndRewind()
    {
        _abortPending = false;
        _producer.AbortTransaction(TimeSpan.FromSeconds(30));
        Interlocked.Increment(ref _transactionsAborted);
        _commitInProgress = false;
        var assigned = _consumer.Assignment;
        foreach (var partition in assigned.Concat(_tracker.Partitions).Distinct().ToList())
            _generations[partition] = _generations.GetValueOrDefault(partition) + 1;
        foreach (var partition in _tracker.Partitions.ToList()) _tracker.Forget(partition);
        _held.Clear();
        _transactionOffsets.Clear();
        foreach (var partition in assigned)
        {
            if (_rewindTo.TryGetValue(partition, out var offset))
                _consumer.Seek(new TopicPartitionOffset(partition, new Offset(offset)));
        }
    }

    private void MeasureLag()
    {
        if (Stopwatch.GetElapsedTime(_lagMeasured) < TimeSpan.FromSeconds(1)) return;
        _lagMeasured = Stopwatch.GetTimestamp();
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
        if (full)
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
            var assigned = _consumer.Assignment.Where(_newlyAssigned.Contains).Where(p => !_paused.Contains(p)).ToList();
            if (assigned.Count > 0) _consumer.Resume(assigned);
        }
        _newlyAssigned.Clear();
        if (!full && drained && _paused.Count > 0)
        {
            var assigned = _consumer.Assignment.Where(_paused.Contains).ToList();
            if (assigned.Count > 0) _consumer.Resume(assigned);
            _paused.Clear();
        }
        PausedPartitions = _paused.Count;
    }

    private void OnRevoked(List<TopicPartitionOffset> revoked)
    {
        var partitions = revoked.Select(p => p.TopicPartition).ToList();
        if (_crashed)
        {
            OnLost(revoked);
            return;
        }
        _logger.LogInformation("Revoked {Partitions}: draining", string.Join(",", partitions.Select(p => p.Partition.Value)));
        // Runs on the poll thread inside Consume: waiting here is bounded by ShutdownTimeout.
        DrainAsync(partitions, "revoke").GetAwaiter().GetResult();
        if (_transactional)
        {
            // The revoked partitions' outcomes and offsets must leave together: if the commit did not go through,
            // abort, so their new owner neither misses nor repeats them.
            if (!MaybeCommitTransaction(force: true))
            {
                AbortAndRewind();
                BeginTransaction();
            }
        }
        else
        {
            var offsets = partitions
                .Select(p => (Partition: p, Offset: _tracker.CommittableOffset(p)))
                .Where(x => x.Offset is not null)
                .Select(x => new TopicPartitionOffset(x.Partition, new Offset(x.Offset!.Value)))
                .ToList();
            if (offsets.Count > 0)
            {
                try
                {
                    _consumer.Commit(offsets);
                }
                catch (KafkaException e)
                {
                    _logger.LogWarning("Commit on revoke failed: {Reason}", e.Error.Reason);
                }
            }
        }
        Forget(partitions);
    }

    private void OnLost(List<TopicPartitionOffset> lost)
    {
        _logger.LogWarning("Lost {Partitions}: dropped without commit", string.Join(",", lost.Select(p => p.Partition.Value)));
        if (_transactional && !_crashed && _transactionOffsets.Keys.Any(p => lost.Any(l => l.TopicPartition == p)))
        {
            // Outcomes of a lost partition may already be in the open transaction, without offsets to match.
            AbortAndRewind();
            BeginTransaction();
        }
        Forget(lost.Select(p => p.TopicPartition));
    }

    private void Forget(IEnumerable<TopicPartition> partitions)
    {
        foreach (var p in partitions)
        {
            _generations[p] = _generations.GetValueOrDefault(p) + 1;
            _tracker.Forget(p);
            _paused.Remove(p);
            _held.Remove(p);
            _transactionOffsets.Remove(p);
            _rewindTo.Remove(p);
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
        var deadline = Stopwatch.StartNew();
        while (partitions.Any(p => _tracker.PendingIn(p) > 0))
        {
            ThrowIfFatal();
            var left = _options.ShutdownTimeout - deadline.Elapsed;
            if (left <= TimeSpan.Zero)
            {
                _logger.LogWarning("{Why}: {Count} uploads still in flight after {Timeout}; they will be redelivered",
                    why, partitions.Sum(_tracker.PendingIn), _options.ShutdownTimeout);
                return;
            }
            await _completionSignal.WaitAsync(left < TimeSpan.FromMilliseconds(100) ? left : TimeSpan.FromMilliseconds(100)).ConfigureAwait(false);
            DrainCompletions();
        }
    }

    private void CommitStored()
    {
        try
        {
            _consumer.Commit();
        }
        catch (KafkaException e) when (e.Error.Code == ErrorCode.Local_NoOffset)
        {
        }
        catch (KafkaException e)
        {
            _logger.LogWarning("Final commit failed: {Reason}", e.Error.Reason);
        }
    }

    /// <summary>Call after <see cref="RunAsync"/> returned or threw. Upload tasks still running are cancelled and kept
    /// off the producer; the consumer is closed and disposed, then the producer.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        KafkaTelemetry.Unregister(this);
        CloseProducer();
        _stopWork.Cancel();
        _consumer.Dispose();
        _producer.Dispose();
        // _completionSignal and _stopWork stay undisposed: late upload tasks and delivery reports may still touch them.
    }
}
