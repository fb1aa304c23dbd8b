using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Moderation.Streams.Kafka;

/// <summary>
/// At-least-once (the default): outcomes are produced as soon as they are ready (idempotent producer, acks=all); an
/// upload's offset is stored only after every record it produced was acknowledged, gap-free per partition; offsets are
/// auto-committed from the store, and committed explicitly on revoke and at the end of the run.
/// </summary>
internal sealed class AtLeastOnceDelivery(OutcomePublisher publisher, IConsumer<byte[]?, byte[]?> consumer, OffsetTracker tracker, ILogger logger)
    : OutcomeDelivery
{
    public override void Deliver(ConsumeResult<byte[]?, byte[]?> upload, IReadOnlyList<OutboundMessage> outcome,
        Action<IReadOnlyList<OutboundMessage>?> finished) =>
        publisher.PublishOutcome(upload, outcome, () => finished(null));

    public override void Advanced(TopicPartition partition, long next)
    {
        try
        {
            consumer.StoreOffset(new TopicPartitionOffset(partition, new Offset(next)));
        }
        catch (KafkaException e)
        {
            // The partition was revoked meanwhile; its new owner re-screens from the committed offset.
            logger.LogDebug("StoreOffset {Partition}: {Reason}", partition, e.Error.Reason);
        }
    }

    public override void Revoked(IReadOnlyList<TopicPartition> partitions)
    {
        var offsets = partitions
            .Select(p => (Partition: p, Offset: tracker.CommittableOffset(p)))
            .Where(x => x.Offset is not null)
            .Select(x => new TopicPartitionOffset(x.Partition, new Offset(x.Offset!.Value)))
            .ToList();
        if (offsets.Count == 0) return;
        try
        {
            consumer.Commit(offsets);
        }
        catch (KafkaException e)
        {
            logger.LogWarning("Commit on revoke failed: {Reason}", e.Error.Reason);
        }
    }

    public override void Flush() => publisher.Flush(TimeSpan.FromSeconds(10));

    public override void CommitFinished()
    {
        try
        {
            consumer.Commit();
        }
        catch (KafkaException e) when (e.Error.Code == ErrorCode.Local_NoOffset)
        {
        }
        catch (KafkaException e)
        {
            logger.LogWarning("Final commit failed: {Reason}", e.Error.Reason);
        }
    }
}
