using System.Collections.Concurrent;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Kafka;

/// <summary>
/// The producer of a consume loop (<see cref="UploadConsumer"/>, <see cref="Replay.ReplayRunner"/>) and the one way
/// outcome records reach it, so that no single record can stop a partition and nothing is produced once the loop
/// has stopped:
/// <list type="bullet">
/// <item>an upload finishes (<see cref="PublishOutcome"/>) once every record of its outcome is acknowledged;</item>
/// <item>a record refused for good as a record (<see cref="IsRefusedRecord"/>: too large, invalid), by librdkafka's
/// own check or in the delivery report, is replaced by a stub DLQ record (<see cref="DeadLetter.Stub"/>) that
/// acknowledges the upload in its place; a refused stub, or any other failure, goes to <c>fail</c>;</item>
/// <item>every produce call passes a gate that <see cref="Close"/> shuts, waiting for the calls already past it, so the
/// producer can be disposed while upload tasks are still running;</item>
/// <item>an optional record (<see cref="OutboundMessage.Optional"/>) is never waited for and never fatal: a failure is
/// counted, logged once, and its topic's optional records are dropped for <see cref="OptionalRetryAfter"/>.</item>
/// </list>
/// </summary>
internal sealed class OutcomePublisher : IDisposable
{
    private readonly string _dlqTopic;
    private readonly ILogger _logger;
    private readonly Action<Exception> _fail;
    private int _producing, _closed, _disposed;
    private long _stubs, _published, _optionalDropped;
    private readonly TimeProvider _time;
    // Optional topics whose last record failed, with when: their records are dropped unproduced until OptionalRetryAfter
    // has passed, so a missing topic costs one warning and one failure per interval, not one per upload.
    private readonly ConcurrentDictionary<string, long> _failingOptional = new();

    /// <summary>How long optional records to a topic that failed are dropped without trying.</summary>
    public static readonly TimeSpan OptionalRetryAfter = TimeSpan.FromSeconds(30);

    /// <param name="config">From <see cref="KafkaClientConfig"/>.</param>
    /// <param name="clientError">The producer's error callback (librdkafka's client-level errors, fatal or not).</param>
    /// <param name="fail">Called when a record can be neither published nor replaced: the loop must stop.</param>
    /// <param name="clientLog">librdkafka's own log lines (<see cref="KafkaClientLog.Log"/>); its default writes them to stderr.</param>
    public OutcomePublisher(ProducerConfig config, string dlqTopic, ILogger logger, Action<Error> clientError, Action<Exception> fail, TimeProvider? time = null,
        Action<LogMessage>? clientLog = null)
    {
        _time = time ?? TimeProvider.System;
        _dlqTopic = dlqTopic;
        _logger = logger;
        _fail = fail;
        var builder = new ProducerBuilder<byte[]?, byte[]?>(config).SetErrorHandler((_, error) => clientError(error));
        if (clientLog is not null) builder.SetLogHandler((_, message) => clientLog(message));
        Producer = builder.Build();
    }

    /// <summary>For the transaction calls of exactly-once mode; records go through <see cref="TryProduce"/>.</summary>
    public IProducer<byte[]?, byte[]?> Producer { get; }

    public bool Closed => Volatile.Read(ref _closed) != 0;

    /// <summary>Records acknowledged by the broker (outcomes and stubs).</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Optional records not delivered (refused, timed out, or skipped while their topic keeps failing).</summary>
    public long OptionalDropped => Interlocked.Read(ref _optionalDropped);

    /// <summary>Stub DLQ records produced in place of refused outcomes.</summary>
    public long Stubs => Interlocked.Read(ref _stubs);

    /// <summary>Errors that refuse one record for good, whatever is retried: the record must change, not the broker.</summary>
    public static bool IsRefusedRecord(ErrorCode code) => code is ErrorCode.MsgSizeTooLarge or ErrorCode.RecordListTooLarge
        or ErrorCode.InvalidMsgSize or ErrorCode.InvalidRecord or ErrorCode.Local_BadMsg;

    /// <summary>Produces unless closed (then false). Throws what <see cref="IProducer{TKey,TValue}.Produce(string, Message{TKey,TValue}, Action{DeliveryReport{TKey,TValue}})"/> throws,
    /// except for an optional record: it never throws, and <paramref name="report"/> hears only of its acknowledgement.</summary>
    public bool TryProduce(OutboundMessage message, Action<DeliveryReport<byte[]?, byte[]?>> report)
    {
        return message.Optional ? TryProduceOptional(message, report) : TryProduceCore(message, report);
    }

    private bool TryProduceCore(OutboundMessage message, Action<DeliveryReport<byte[]?, byte[]?>> report)
    {
        Interlocked.Increment(ref _producing);
        try
        {
            if (Closed) return false;
            Producer.Produce(message.Topic, new Message<byte[]?, byte[]?> { Key = message.Key, Value = message.Value, Headers = message.Headers }, r =>
            {
                if (!r.Error.IsError) Interlocked.Increment(ref _published);
                report(r);
            });
            return true;
        }
        finally
        {
            Interlocked.Decrement(ref _producing);
        }
    }

    private bool TryProduceOptional(OutboundMessage message, Action<DeliveryReport<byte[]?, byte[]?>> report)
    {
        if (_failingOptional.TryGetValue(message.Topic, out long failedAt) && _time.GetElapsedTime(failedAt) < OptionalRetryAfter)
        {
            if (Closed) return false;
            Dropped(message.Topic, null);
            return true;
        }
        try
        {
            return TryProduceCore(message, r =>
            {
                if (!r.Error.IsError)
                {
                    _failingOptional.TryRemove(message.Topic, out _);
                    report(r);
                }
                else if (!Closed) Dropped(message.Topic, r.Error);
            });
        }
        catch (KafkaException e)
        {
            Dropped(message.Topic, e.Error);
            return true;
        }
    }

    /// <param name="why">The failure; null when dropped unproduced because the topic failed recently.</param>
    private void Dropped(string topic, Error? why)
    {
        Interlocked.Increment(ref _optionalDropped);
        KafkaTelemetry.OptionalDropped.Add(1, new KeyValuePair<string, object?>("messaging.destination.name", topic));
        if (why is null) return;
        long now = _time.GetTimestamp();
        bool first = true;
        _failingOptional.AddOrUpdate(topic, now, (_, before) =>
        {
            first = _time.GetElapsedTime(before, now) >= OptionalRetryAfter;
            return now;
        });
        if (first)
            _logger.LogWarning("Optional records to {Topic} are failing ({Reason}): dropped for {RetryAfter} at a time; live decisions are not affected",
                topic, why.Reason, OptionalRetryAfter);
    }

    /// <summary>Produces the outcome records of <paramref name="upload"/>; <paramref name="acknowledged"/> runs once
    /// every one of them, or the stub that replaced it, is acknowledged (at once for an empty outcome). Optional
    /// records are produced but not waited for.
    /// False when nothing more can be produced (closed, or failed): the upload never finishes.</summary>
    public bool PublishOutcome(ConsumeResult<byte[]?, byte[]?> upload, IReadOnlyList<OutboundMessage> outcome, Action acknowledged)
    {
        int remaining = outcome.Count(m => !m.Optional);
        foreach (var message in outcome)
            if (message.Optional && !TryProduce(message, _ => { })) return false;
        if (remaining == 0)
        {
            acknowledged();
            return true;
        }
        foreach (var message in outcome.Where(m => !m.Optional))
        {
            if (!Publish(upload.TopicPartitionOffset, upload.Message.Key, message, () =>
            {
                if (Interlocked.Decrement(ref remaining) == 0) acknowledged();
            })) return false;
        }
        return true;
    }

    private bool Publish(TopicPartitionOffset source, byte[]? key, OutboundMessage message, Action acknowledged)
    {
        try
        {
            return TryProduce(message, report =>
            {
                if (!report.Error.IsError) acknowledged();
                else if (Closed) { } // purged by the stop: redelivered after restart
                else if (IsRefusedRecord(report.Error.Code)) PublishStub(source, key, message, report.Error, acknowledged);
                // The idempotent producer already retried until message.timeout.ms: stop rather than skip.
                else _fail(new KafkaException(report.Error));
            });
        }
        catch (KafkaException e) when (IsRefusedRecord(e.Error.Code))
        {
            return PublishStub(source, key, message, e.Error, acknowledged);
        }
        catch (Exception e)
        {
            _fail(e);
            return false;
        }
    }

    private bool PublishStub(TopicPartitionOffset source, byte[]? key, OutboundMessage refused, Error why, Action acknowledged)
    {
        try
        {
            return TryProduce(StubFor(source, key, refused, why), report =>
            {
                if (!report.Error.IsError) acknowledged();
                else if (!Closed) _fail(new KafkaException(report.Error));
            });
        }
        catch (Exception e)
        {
            _fail(e);
            return false;
        }
    }

    /// <summary>The stub DLQ record that stands in for <paramref name="refused"/>: a refused DLQ record keeps its code,
    /// a refused decision is the service's failure (<c>internal</c>).</summary>
    public OutboundMessage StubFor(TopicPartitionOffset source, byte[]? key, OutboundMessage refused, Error why)
    {
        Interlocked.Increment(ref _stubs);
        KafkaTelemetry.Stubs.Add(1, new KeyValuePair<string, object?>("messaging.destination.name", refused.Topic));
        long size = DeadLetter.SizeOf(refused) - DeadLetter.RecordOverheadBytes;
        _logger.LogError("The broker refused the {Topic} record ({Size} bytes) of {Source}: {Reason}; publishing a stub DLQ record instead",
            refused.Topic, size, source, why.Reason);
        string code = refused.Topic == _dlqTopic && refused.Headers.FirstOrDefault(h => h.Key == DlqHeaders.ErrorCode)?.GetValueBytes() is { } c
            ? Encoding.UTF8.GetString(c)
            : ErrorCodes.Internal;
        var stub = DeadLetter.Stub(_dlqTopic, source, key, code,
            $"the outcome record for {refused.Topic} ({size} bytes) could not be stored: {why.Reason}; this stub stands in for it");
        // A stub for a refused DLQ record stands in for one already counted; a stub for a decision is a new DLQ record.
        if (refused.Topic != _dlqTopic) KafkaTelemetry.CountDeadLetter(stub);
        // The stub stands in for the refused record: a redelivered duplicate of either is recognised by the same id.
        if (refused.Headers.TryGetLastBytes(DecisionId.Header, out var id)) stub.Headers.Add(DecisionId.Header, id);
        return stub;
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the delivery reports of everything produced.</summary>
    public void Flush(TimeSpan timeout) => Producer.Flush(timeout);

    /// <summary>Shuts the gate and waits for produce calls already past it (they never block) to return.</summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        var spin = new SpinWait();
        while (Volatile.Read(ref _producing) != 0) spin.SpinOnce();
    }

    /// <summary>Closes the gate, then disposes the producer: no produce call can reach it any more.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Close();
        Producer.Dispose();
    }
}
