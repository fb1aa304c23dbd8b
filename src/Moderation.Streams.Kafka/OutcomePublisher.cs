using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Kafka;

/// <summary>
/// Produces outcome records for a consume loop (<see cref="UploadConsumer"/>, <see cref="Replay.ReplayRunner"/>) so
/// that no single record can stop a partition and nothing is produced once the loop has stopped:
/// <list type="bullet">
/// <item>a record refused for good as a record (<see cref="IsRefusedRecord"/>: too large, invalid), by librdkafka's
/// own check or in the delivery report, is replaced by a stub DLQ record (<see cref="DeadLetter.Stub"/>) that
/// acknowledges the upload in its place; a refused stub, or any other failure, goes to <c>fail</c>;</item>
/// <item>every produce call passes a gate that <see cref="Close"/> shuts, waiting for the calls already past it, so the
/// producer can be disposed while upload tasks are still running.</item>
/// </list>
/// </summary>
internal sealed class OutcomePublisher(IProducer<byte[]?, byte[]?> producer, string dlqTopic, ILogger logger, Action<Exception> fail)
{
    private int _producing, _closed;
    private long _stubs;

    public bool Closed => Volatile.Read(ref _closed) != 0;

    /// <summary>Stub DLQ records produced in place of refused outcomes.</summary>
    public long Stubs => Interlocked.Read(ref _stubs);

    /// <summary>Errors that refuse one record for good, whatever is retried: the record must change, not the broker.</summary>
    public static bool IsRefusedRecord(ErrorCode code) => code is ErrorCode.MsgSizeTooLarge or ErrorCode.RecordListTooLarge
        or ErrorCode.InvalidMsgSize or ErrorCode.InvalidRecord or ErrorCode.Local_BadMsg;

    /// <summary>Produces unless closed (then false). Throws what <see cref="IProducer{TKey,TValue}.Produce(string, Message{TKey,TValue}, Action{DeliveryReport{TKey,TValue}})"/> throws.</summary>
    public bool TryProduce(OutboundMessage message, Action<DeliveryReport<byte[]?, byte[]?>> report)
    {
        Interlocked.Increment(ref _producing);
        try
        {
            if (Closed) return false;
            producer.Produce(message.Topic, new Message<byte[]?, byte[]?> { Key = message.Key, Value = message.Value, Headers = message.Headers }, report);
            return true;
        }
        finally
        {
            Interlocked.Decrement(ref _producing);
        }
    }

    /// <summary>Shuts the gate and waits for produce calls already past it (they never block) to return.</summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        var spin = new SpinWait();
        while (Volatile.Read(ref _producing) != 0) spin.SpinOnce();
    }

    /// <summary>Produces one outcome record of the upload at <paramref name="source"/> (key <paramref name="key"/>);
    /// <paramref name="acknowledged"/> runs once it, or the stub that replaced it, is acknowledged.
    /// False when nothing more can be produced (closed, or failed).</summary>
    public bool Publish(TopicPartitionOffset source, byte[]? key, OutboundMessage message, Action acknowledged)
    {
        try
        {
            return TryProduce(message, report =>
            {
                if (!report.Error.IsError) acknowledged();
                else if (Closed) { } // purged by the stop: redelivered after restart
                else if (IsRefusedRecord(report.Error.Code)) PublishStub(source, key, message, report.Error, acknowledged);
                // The idempotent producer already retried until message.timeout.ms: stop rather than skip.
                else fail(new KafkaException(report.Error));
            });
        }
        catch (KafkaException e) when (IsRefusedRecord(e.Error.Code))
        {
            return PublishStub(source, key, message, e.Error, acknowledged);
        }
        catch (Exception e)
        {
            fail(e);
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
                else if (!Closed) fail(new KafkaException(report.Error));
            });
        }
        catch (Exception e)
        {
            fail(e);
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
        logger.LogError("The broker refused the {Topic} record ({Size} bytes) of {Source}: {Reason}; publishing a stub DLQ record instead",
            refused.Topic, size, source, why.Reason);
        string code = refused.Topic == dlqTopic && refused.Headers.FirstOrDefault(h => h.Key == DlqHeaders.ErrorCode)?.GetValueBytes() is { } c
            ? Encoding.UTF8.GetString(c)
            : ErrorCodes.Internal;
        return DeadLetter.Stub(dlqTopic, source, key, code,
            $"the outcome record for {refused.Topic} ({size} bytes) could not be stored: {why.Reason}; this stub stands in for it");
    }
}
