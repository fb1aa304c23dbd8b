using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Moderation.Streams.Kafka;

/// <summary>
/// At-least-once (the default): outcomes are produced as soon as they are ready (idempotent producer, acks=all); an
/// upload's offset is stored only after every record it produced was acknowledged, gap-free per partition; stored
/// offsets are committed at most <see cref="KafkaOptions.CommitInterval"/> after they advanced (on
/// <paramref name="time"/>, so the bound is testable), and on revoke and at the end of the run. What a crash re-screens
/// is what was in flight plus at most one interval of finished work.
/// </summary>
internal sealed class AtLeastOnceDelivery(OutcomePublisher publisher, IConsumer<byte[]?, byte[]?> consumer, OffsetTracker tracker, ILogger logger,
    TimeSpan commitInterval, TimeProvider time)
    : OutcomeDelivery
{
    // When the oldest stored offset not yet committed was stored; null when everything stored is committed.
    private long? _uncommittedSince;

    public override void Deliver(ConsumeResult<byte[]?, byte[]?> upload, IReadOnlyList<OutboundMessage> outcome,
        Action<IReadOnlyList<OutboundMessage>?> finished) =>
        publisher.PublishOutcome(upload, outcome, () => finished(null));

    public override void Advanced(TopicPartition partition, long next)
    {
        try
        {
            consumer.StoreOffset(new TopicPartitionOffset(partition, new Offset(next)));
            _uncommittedSince ??= time.GetTimestamp();
        }
        catch (KafkaException e)
        {
            // The partition was revoked meanwhile; its new owner re-screens from the committed offset.
            logger.LogDebug("StoreOffset {Partition}: {Reason}", partition, e.Error.Reason);
        }
    }

    public override void Tick()
    {
        if (_uncommittedSince is { } since && time.GetElapsedTime(since) >= commitInterval) CommitStored("Commit");
    }

    public override void Revoking(IReadOnlyList<TopicPartition> partitions) => Revoked(partitions);

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

    public override void CommitFinished() => CommitStored("Final commit");

    /// <summary>Commits the stored offsets of the assigned partitions (one broker round trip). The group refuses commits
    /// while it rebalances: those are tried again on the next tick, so finished work is committed as soon as the
    /// rebalance ends (each kill of a worker rebalances the group, and whatever stays uncommitted meanwhile is what
    /// the next crash re-screens). Other failures wait for the next interval. Revoke commits its partitions itself.</summary>
    private void CommitStored(string what)
    {
        try
        {
            consumer.Commit();
            _uncommittedSince = null;
        }
        catch (KafkaException e) when (e.Error.Code == ErrorCode.Local_NoOffset)
        {
            _uncommittedSince = null;
        }
        catch (KafkaException e) when (e.Error.Code is ErrorCode.RebalanceInProgress or ErrorCode.IllegalGeneration)
        {
            logger.LogDebug("{What} refused while the group rebalances: {Reason}", what, e.Error.Reason);
        }
        catch (KafkaException e)
        {
            _uncommittedSince = time.GetTimestamp();
            logger.LogWarning("{What} failed: {Reason}", what, e.Error.Reason);
        }
    }
}
