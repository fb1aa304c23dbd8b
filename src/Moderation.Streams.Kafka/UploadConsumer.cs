using System.Collections.Concurrent;
using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Moderation.Streams.Kafka;

/// <summary>
/// The consume loop: a single thread that polls, hands each upload to the <see cref="IUploadHandler"/>
/// (many run concurrently), publishes their outcomes asynchronously, and stores an upload's offset only after
/// every record it produced was acknowledged by the broker — gap-free per partition. It never blocks on
/// the work: backpressure pauses partitions, and the loop keeps polling so the group membership stays alive.
/// </summary>
public sealed class UploadConsumer : IDisposable
{
    private readonly KafkaOptions _options;
    private readonly IUploadHandler _handler;
    private readonly ILogger _logger;
    private readonly OffsetTracker _tracker = new();
    private readonly ConcurrentQueue<(TopicPartition Partition, long Offset, int Bytes)> _completed = new();
    private readonly SemaphoreSlim _completionSignal = new(0);
    private readonly IConsumer<byte[]?, byte[]?> _consumer;
    private readonly IProducer<byte[]?, byte[]?> _producer;
    private readonly HashSet<TopicPartition> _paused = [];
    private long _inFlightBytes;
    private volatile Exception? _fatal;
    private volatile bool _crashed;
    private long _consumed, _published;

    public UploadConsumer(KafkaOptions options, IUploadHandler handler, ILogger logger)
    {
        _options = options;
        _handler = handler;
        _logger = logger;
        _consumer = new ConsumerBuilder<byte[]?, byte[]?>(ConsumerConfig(options))
            .SetPartitionsAssignedHandler((_, partitions) =>
                _logger.LogInformation("Assigned {Partitions}", string.Join(",", partitions.Select(p => p.Partition.Value))))
            .SetPartitionsRevokedHandler((_, partitions) => OnRevoked(partitions))
            .SetPartitionsLostHandler((_, partitions) => OnLost(partitions))
            .SetErrorHandler((_, error) =>
            {
                if (error.IsFatal) _fatal ??= new KafkaException(error);
                _logger.Log(error.IsFatal ? LogLevel.Critical : LogLevel.Warning, "Kafka consumer: {Reason}", error.Reason);
            })
            .Build();
        _producer = new ProducerBuilder<byte[]?, byte[]?>(ProducerConfig(options))
            .SetErrorHandler((_, error) =>
            {
                if (error.IsFatal) _fatal ??= new KafkaException(error);
                _logger.Log(error.IsFatal ? LogLevel.Critical : LogLevel.Warning, "Kafka producer: {Reason}", error.Reason);
            })
            .Build();
    }

    public long Consumed => Interlocked.Read(ref _consumed);
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Uploads received but not yet finished.</summary>
    public int InFlight => Volatile.Read(ref _inFlightCount);
    private int _inFlightCount;

    public static ConsumerConfig ConsumerConfig(KafkaOptions options)
    {
        var config = new ConsumerConfig(new Dictionary<string, string>(options.Properties))
        {
            BootstrapServers = options.BootstrapServers,
            GroupId = options.GroupId,
            EnableAutoCommit = true,
            AutoCommitIntervalMs = options.AutoCommitIntervalMs,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
            SessionTimeoutMs = options.SessionTimeoutMs,
            MaxPollIntervalMs = options.MaxPollIntervalMs,
            EnablePartitionEof = false,
            GroupInstanceId = options.GroupInstanceId,
        };
        return config;
    }

    public static ProducerConfig ProducerConfig(KafkaOptions options) => new(new Dictionary<string, string>(options.Properties))
    {
        BootstrapServers = options.BootstrapServers,
        EnableIdempotence = true,
        Acks = Acks.All,
        LingerMs = 5,
        MessageTimeoutMs = 120_000,
    };

    /// <summary>Runs until <paramref name="stoppingToken"/> fires (then drains, commits and returns) or a fatal error (throws).</summary>
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        _consumer.Subscribe(_options.UploadsTopic);
        _logger.LogInformation("Consuming {Topic} as group {Group} from {Servers}", _options.UploadsTopic, _options.GroupId, _options.BootstrapServers);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                ThrowIfFatal();
                DrainCompletions();
                ApplyBackpressure();
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
            _producer.Flush(TimeSpan.FromSeconds(10));
            DrainCompletions();
            CommitStored();
            _consumer.Close();
            _logger.LogInformation("Stopped after {Consumed} uploads, {Published} records published", Consumed, Published);
        }
        catch
        {
            // A crashed pipeline commits nothing more: what was not acknowledged is redelivered.
            _crashed = true;
            throw;
        }
    }

    private void ThrowIfFatal()
    {
        if (_fatal is { } fatal) throw new InvalidOperationException("The screening pipeline failed: " + fatal.Message, fatal);
    }

    private void Dispatch(ConsumeResult<byte[]?, byte[]?> result)
    {
        Interlocked.Increment(ref _consumed);
        int bytes = (result.Message.Value?.Length ?? 0) + (result.Message.Key?.Length ?? 0);
        _tracker.Begin(result.TopicPartition, result.Offset.Value);
        Interlocked.Increment(ref _inFlightCount);
        _inFlightBytes += bytes;
        _ = Task.Run(() => ProcessAsync(result, bytes));
    }

    private async Task ProcessAsync(ConsumeResult<byte[]?, byte[]?> upload, int bytes)
    {
        IReadOnlyList<OutboundMessage> outcome;
        try
        {
            outcome = await _handler.HandleAsync(upload, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // The service failed, not the input: fail closed into the DLQ with code 'internal'.
            _logger.LogError(e, "Internal error screening {TopicPartitionOffset}", upload.TopicPartitionOffset);
            outcome = [DeadLetter.Create(_options.DlqTopic, upload, Contracts.ErrorCodes.Internal, e.Message)];
        }

        int remaining = outcome.Count;
        if (remaining == 0)
        {
            Complete(upload, bytes);
            return;
        }
        foreach (var message in outcome)
        {
            try
            {
                _producer.Produce(message.Topic, new Message<byte[]?, byte[]?> { Key = message.Key, Value = message.Value, Headers = message.Headers }, report =>
                {
                    if (report.Error.IsError)
                    {
                        // Idempotent producer already retried until message.timeout.ms: stop rather than skip.
                        _fatal ??= new KafkaException(report.Error);
                        return;
                    }
                    Interlocked.Increment(ref _published);
                    if (Interlocked.Decrement(ref remaining) == 0) Complete(upload, bytes);
                });
            }
            catch (Exception e)
            {
                _fatal ??= e;
                return;
            }
        }
    }

    private void Complete(ConsumeResult<byte[]?, byte[]?> upload, int bytes)
    {
        _completed.Enqueue((upload.TopicPartition, upload.Offset.Value, bytes));
        _completionSignal.Release();
    }

    private void DrainCompletions()
    {
        while (_completed.TryDequeue(out var done))
        {
            Interlocked.Decrement(ref _inFlightCount);
            _inFlightBytes -= done.Bytes;
            var next = _tracker.Complete(done.Partition, done.Offset);
            if (next is null) continue;
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

    private void ApplyBackpressure()
    {
        bool full = _tracker.InFlight >= _options.MaxInFlight || _inFlightBytes >= _options.MaxInFlightBytes;
        bool drained = _tracker.InFlight <= _options.MaxInFlight / 2 && _inFlightBytes <= _options.MaxInFlightBytes / 2;
        if (full && _paused.Count == 0)
        {
            var assignment = _consumer.Assignment;
            if (assignment.Count == 0) return;
            _consumer.Pause(assignment);
            _paused.UnionWith(assignment);
            _logger.LogDebug("Paused {Count} partitions at {InFlight} in flight", assignment.Count, _tracker.InFlight);
        }
        else if (drained && _paused.Count > 0)
        {
            var assigned = _consumer.Assignment.Where(_paused.Contains).ToList();
            if (assigned.Count > 0) _consumer.Resume(assigned);
            _paused.Clear();
        }
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
        foreach (var p in partitions)
        {
            _tracker.Forget(p);
            _paused.Remove(p);
        }
    }

    private void OnLost(List<TopicPartitionOffset> lost)
    {
        _logger.LogWarning("Lost {Partitions}: dropped without commit", string.Join(",", lost.Select(p => p.Partition.Value)));
        foreach (var p in lost)
        {
            _tracker.Forget(p.TopicPartition);
            _paused.Remove(p.TopicPartition);
        }
    }

    private async Task DrainAsync(IReadOnlyCollection<TopicPartition> partitions, string why)
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

    public void Dispose()
    {
        _consumer.Dispose();
        _producer.Dispose();
        _completionSignal.Dispose();
    }
}
