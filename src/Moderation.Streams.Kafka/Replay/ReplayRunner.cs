using System.Collections.Concurrent;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Moderation.Streams.Kafka.Replay;

/// <summary>
/// Re-screens a bounded range of the uploads topic: its own consume loop over assigned partitions (no group
/// membership, so live workers are never rebalanced), each stopped at the end offset captured when the range was
/// resolved. Outcomes are produced through the worker's <see cref="OutcomePublisher"/> (the same producer settings,
/// stubs for refused records); an upload counts as finished when all its records are acknowledged, and the gap-free
/// finished position is committed to the replay's group so a restarted replay resumes there. Dry runs decide and
/// report without producing or committing.
/// <para>A failure stops in order, like <see cref="UploadConsumer"/>: nothing more is produced, in-flight uploads are
/// cancelled and waited for (at most <see cref="ReplayOptions.ShutdownTimeout"/>), and what was acknowledged before
/// is committed.</para>
/// </summary>
public sealed class ReplayRunner : IDisposable
{
    private static readonly TimeSpan PollSlice = TimeSpan.FromMilliseconds(100);
    private readonly KafkaOptions _kafka;
    private readonly ReplayPlan _plan;
    private readonly IUploadHandler _handler;
    private readonly ReplayOptions _options;
    private readonly ILogger _logger;
    private readonly Contracts.LogThrottle _logThrottle = new(KafkaClientLog.Interval);
    private readonly TimeProvider _time;
    private readonly OffsetTracker _tracker = new();
    private readonly ConcurrentQueue<(TopicPartition Partition, long Offset)> _completed = new();
    private readonly SemaphoreSlim _completionSignal = new(0);
    private readonly IConsumer<byte[]?, byte[]?> _consumer;
    private readonly OutcomePublisher? _publisher;
    private readonly UploadTasks _tasks;
    private int _disposed;
    private readonly Dictionary<TopicPartition, PartitionRange> _ranges = [];
    private readonly HashSet<TopicPartition> _reachedEnd = [];
    private readonly Dictionary<TopicPartition, long> _committed = [];
    private volatile Exception? _fatal;
    private long _processed, _dispatched;

    /// <param name="time">The clock of the rate, the commit interval and the shutdown wait; <see cref="TimeProvider.System"/> by default.</param>
    public ReplayRunner(KafkaOptions kafka, ReplayPlan plan, IUploadHandler handler, ReplayOptions options, ILogger logger, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxInFlight, 1);
        if (options.Rate is <= 0) throw new ArgumentOutOfRangeException(nameof(options), options.Rate, "rate must be positive");
        _kafka = kafka;
        _plan = plan;
        _handler = handler;
        _options = options;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _tasks = new UploadTasks(e => _fatal ??= e);
        foreach (var range in plan.Partitions) _ranges[plan.TopicPartition(range)] = range;
        _consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig(KafkaSecurity.ConsumerProperties(kafka))
        {
            BootstrapServers = kafka.BootstrapServers,
            GroupId = plan.GroupId,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            EnablePartitionEof = true,
            // An offset deleted by retention mid-replay is an error, not a silent jump: the range would be incomplete.
            AutoOffsetReset = AutoOffsetReset.Error,
        }).SetErrorHandler((_, e) => OnClientError("consumer", e))
            .SetLogHandler((_, m) => KafkaClientLog.Log(_logger, _logThrottle, "consumer", m)).Build();
        if (!options.DryRun)
            _publisher = new OutcomePublisher(KafkaClientConfig.Producer(kafka), kafka.DlqTopic, logger, e => OnClientError("producer", e), e => _fatal ??= e,
                clientLog: m => KafkaClientLog.Log(_logger, _logThrottle, "producer", m));
    }

    public ReplayPlan Plan => _plan;

    /// <summary>Called once per finished upload with the records it produced (acknowledged, or only decided in a
    /// dry run), from worker threads: must be thread-safe.</summary>
    public Action<ConsumeResult<byte[]?, byte[]?>, IReadOnlyList<OutboundMessage>>? Outcome { get; init; }

    /// <summary>Uploads finished by this run.</summary>
    public long Processed => Interlocked.Read(ref _processed);

    /// <summary>Records acknowledged by the broker in this run.</summary>
    public long Published => _publisher?.Published ?? 0;

    /// <summary>Completes when the replay has stopped publishing (the end of <see cref="RunAsync"/> or
    /// <see cref="Dispose"/>) and no upload's task is running any more.</summary>
    public Task Idle => _tasks.Idle;

    /// <summary>Runs the range to its end (Completed), until <paramref name="ct"/> fires, or until a Kafka failure;
    /// in every case it commits what finished before returning.</summary>
    public async Task<ReplayResult> RunAsync(CancellationToken ct)
    {
        await Task.Yield();
        var assignment = _plan.Partitions.Where(p => p.Resume < p.End)
            .Select(p => new TopicPartitionOffset(_plan.TopicPartition(p), new Offset(p.Resume))).ToList();
        foreach (var p in _plan.Partitions.Where(p => p.Resume >= p.End)) _reachedEnd.Add(_plan.TopicPartition(p));
        _logger.LogInformation("Replaying {Remaining} of {Total} uploads of {Topic} as {Group}{Dry}", _plan.Remaining, _plan.Total, _plan.Topic, _plan.GroupId, _options.DryRun ? " (dry run)" : "");
        if (assignment.Count > 0) _consumer.Assign(assignment);

        string? error = null;
        long started = _time.GetTimestamp(), lastCommit = started;
        try
        {
            while (true)
            {
                ThrowIfFatal();
                DrainCompletions();
                if (_reachedEnd.Count == _ranges.Count && _tracker.InFlight == 0) break;
                if (ct.IsCancellationRequested) break;
                if (_time.GetElapsedTime(lastCommit) >= _options.CommitInterval)
                {
                    Commit();
                    lastCommit = _time.GetTimestamp();
                }
                var wait = Throttle(started);
                if (wait > TimeSpan.Zero)
                {
                    await _completionSignal.WaitAsync(wait, CancellationToken.None).ConfigureAwait(false);
                    continue;
                }
                ConsumeResult<byte[]?, byte[]?>? result;
                try
                {
                    result = _consumer.Consume(PollSlice);
                }
                catch (ConsumeException e) when (e.Error.Code == ErrorCode.Local_AutoOffsetReset)
                {
                    throw new InvalidOperationException($"offsets of the range were deleted by retention before they were replayed ({e.Error.Reason})", e);
                }
                catch (ConsumeException e) when (!e.Error.IsFatal)
                {
                    KafkaClientLog.Error(_logger, _logThrottle, "Replay consume", e.Error);
                    continue;
                }
                if (result is null || _reachedEnd.Contains(result.TopicPartition) || !_ranges.TryGetValue(result.TopicPartition, out var range)) continue;
                if (result.IsPartitionEOF || result.Offset.Value >= range.End)
                {
                    if (result.Offset.Value >= range.End) ReachedEnd(result.TopicPartition);
                    continue;
                }
                Dispatch(result);
                if (result.Offset.Value >= range.End - 1) ReachedEnd(result.TopicPartition);
            }
        }
        catch (Exception e) when (e is KafkaException or InvalidOperationException)
        {
            error = e.Message;
            _logger.LogError(e, "Replay failed: {Message}", e.Message);
        }

        if (error is null) await DrainAsync().ConfigureAwait(false);
        if (error is not null || _fatal is not null)
        {
            await StopAfterFailureAsync().ConfigureAwait(false);
        }
        else
        {
            _publisher?.Flush(TimeSpan.FromSeconds(30));
        }
        DrainCompletions();
        Commit();
        ClosePublisher(); // uploads still in flight publish nothing more: a restarted replay screens them again
        _consumer.Close();
        bool completed = error is null && _fatal is null && _reachedEnd.Count == _ranges.Count && _tracker.InFlight == 0;
        error ??= _fatal?.Message;
        if (!completed && error is null) error = ct.IsCancellationRequested ? "interrupted" : "stopped before the end of the range";
        return new ReplayResult(completed, _plan.Total, _plan.AlreadyDone, Processed, Published, completed ? null : error);
    }

    /// <summary>After a failure: nothing more is produced, in-flight uploads are cancelled and waited for at most
    /// <see cref="ReplayOptions.ShutdownTimeout"/> (longer ones are abandoned: the produce gate keeps them off the
    /// producer whenever they end); what was acknowledged before is still committed.</summary>
    private async Task StopAfterFailureAsync()
    {
        ClosePublisher();
        int abandoned = await _tasks.CancelAsync(_options.ShutdownTimeout, _time).ConfigureAwait(false);
        if (abandoned > 0)
            _logger.LogWarning("Replay stopping after a failure: {Count} uploads still being screened after {Timeout} are abandoned (a restarted replay screens them again)",
                abandoned, _options.ShutdownTimeout);
    }

    private void ClosePublisher()
    {
        _publisher?.Close();
        _tasks.Close();
    }

    private void OnClientError(string client, Error error)
    {
        if (error.IsFatal) _fatal ??= new KafkaException(error);
        KafkaClientLog.Error(_logger, _logThrottle, "Replay " + client, error);
    }

    private TimeSpan Throttle(long started)
    {
        if (_tracker.InFlight >= _options.MaxInFlight) return PollSlice;
        if (_options.Rate is not { } rate) return TimeSpan.Zero;
        var due = TimeSpan.FromSeconds(_dispatched / rate) - _time.GetElapsedTime(started);
        return due <= TimeSpan.Zero ? TimeSpan.Zero : due < PollSlice ? due : PollSlice;
    }

    private void ReachedEnd(TopicPartition partition)
    {
        if (!_reachedEnd.Add(partition)) return;
        _consumer.Pause([partition]);
        _logger.LogDebug("{Partition} reached the end of the range", partition);
    }

    private void ThrowIfFatal()
    {
        if (_fatal is { } fatal) throw new InvalidOperationException("publishing failed: " + fatal.Message, fatal);
    }

    private void Dispatch(ConsumeResult<byte[]?, byte[]?> upload)
    {
        _tracker.Begin(upload.TopicPartition, upload.Offset.Value);
        _dispatched++;
        _tasks.Start(ct => ProcessAsync(upload, ct));
    }

    private async Task ProcessAsync(ConsumeResult<byte[]?, byte[]?> upload, CancellationToken ct)
    {
        IReadOnlyList<OutboundMessage> outcome;
        try
        {
            outcome = await _handler.HandleAsync(upload, ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return; // abandoned by a stop after a failure: a restarted replay screens it again
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Internal error re-screening {TopicPartitionOffset}", upload.TopicPartitionOffset);
            outcome = Unhandled(upload, e);
        }
        if (_publisher is null)
        {
            Complete(upload, outcome);
            return;
        }
        KafkaTelemetry.CountDeadLetters(outcome, _kafka.DlqTopic);
        // A record the broker refuses is replaced by a stub DLQ record, so the range still completes.
        _publisher.PublishOutcome(upload, outcome, () => Complete(upload, outcome));
    }

    /// <summary>As the worker's loop: the handler's policy decides a failed upload, else a DLQ record with code <c>internal</c>.</summary>
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
        return [DeadLetter.Create(_kafka, upload, Contracts.ErrorCodes.Internal, error.Message)];
    }

    private void Complete(ConsumeResult<byte[]?, byte[]?> upload, IReadOnlyList<OutboundMessage> outcome)
    {
        try
        {
            Outcome?.Invoke(upload, outcome);
        }
        catch (Exception e)
        {
            _fatal ??= e;
        }
        _completed.Enqueue((upload.TopicPartition, upload.Offset.Value));
        _completionSignal.Release();
    }

    private void DrainCompletions()
    {
        while (_completed.TryDequeue(out var done))
        {
            _tracker.Complete(done.Partition, done.Offset);
            Interlocked.Increment(ref _processed);
        }
    }

    private async Task DrainAsync()
    {
        long started = _time.GetTimestamp();
        while (_tracker.InFlight > 0 && _fatal is null && _time.GetElapsedTime(started) < _options.ShutdownTimeout)
        {
            await _completionSignal.WaitAsync(PollSlice).ConfigureAwait(false);
            DrainCompletions();
        }
        if (_tracker.InFlight > 0 && _fatal is null)
            _logger.LogWarning("{Count} uploads still in flight; a restarted replay screens them again", _tracker.InFlight);
    }

    /// <summary>Commits, per partition, the gap-free finished position (the end once the partition is done).</summary>
    private void Commit()
    {
        if (_options.DryRun) return;
        var offsets = new List<TopicPartitionOffset>();
        foreach (var (partition, range) in _ranges)
        {
            long? position = _reachedEnd.Contains(partition) && _tracker.PendingIn(partition) == 0
                ? range.End
                : _tracker.CommittableOffset(partition);
            if (position is not { } p || p <= range.Resume || (_committed.TryGetValue(partition, out var last) && p <= last)) continue;
            offsets.Add(new TopicPartitionOffset(partition, new Offset(p)));
        }
        if (offsets.Count == 0) return;
        try
        {
            _consumer.Commit(offsets);
            foreach (var o in offsets) _committed[o.TopicPartition] = o.Offset.Value;
        }
        catch (KafkaException e)
        {
            _logger.LogWarning("Replay commit failed (retried at the next interval): {Reason}", e.Error.Reason);
        }
    }

    /// <summary>Call after <see cref="RunAsync"/> returned. Upload tasks still running are cancelled and kept off the
    /// producer; the consumer is disposed, then the producer.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        ClosePublisher();
        _tasks.Cancel();
        _consumer.Dispose();
        _publisher?.Dispose();
        // _completionSignal stays undisposed: late upload tasks may still signal it.
    }
}
