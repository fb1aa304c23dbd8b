using Confluent.Kafka;

namespace Moderation.Streams.Kafka;

/// <summary>
/// How <see cref="UploadConsumer"/>'s loop turns finished uploads into published outcomes and committed offsets: one
/// implementation per delivery mode (<see cref="AtLeastOnceDelivery"/>, <see cref="ExactlyOnceDelivery"/>). The loop
/// polls, dispatches, keeps the gap-free offsets (<see cref="OffsetTracker"/>) and handles rebalances; it calls these
/// on the poll thread, except <see cref="Deliver"/>, which runs on the upload's task.
/// </summary>
internal abstract class OutcomeDelivery
{
    /// <summary>Before the loop subscribes.</summary>
    public virtual void Start() { }

    /// <summary>The upload's task, with the handler's <paramref name="outcome"/>: calls <paramref name="finished"/> once the
    /// upload counts as finished, with the outcome when the poll thread is to publish it (else null).</summary>
    public abstract void Deliver(ConsumeResult<byte[]?, byte[]?> upload, IReadOnlyList<OutboundMessage> outcome,
        Action<IReadOnlyList<OutboundMessage>?> finished);

    /// <summary>An upload at <paramref name="offset"/> was handed to the handler.</summary>
    public virtual void Dispatched(TopicPartition partition, long offset) { }

    /// <summary>An upload of a partition still owned (and not rewound) finished, before the tracker hears of it;
    /// <paramref name="held"/> is what <see cref="Deliver"/> passed on.</summary>
    public virtual void Finished(TopicPartition partition, long offset, IReadOnlyList<OutboundMessage>? held) { }

    /// <summary>Every upload of <paramref name="partition"/> before <paramref name="next"/> has finished.</summary>
    public abstract void Advanced(TopicPartition partition, long next);

    /// <summary>Each turn of the poll loop, before polling.</summary>
    public virtual void Tick() { }

    /// <summary>Inside the revoke callback, before the revoked partitions are drained: commit what already finished in
    /// them, if the mode can commit part of them.</summary>
    public virtual void Revoking(IReadOnlyList<TopicPartition> partitions) { }

    /// <summary>Inside the revoke callback, after the revoked partitions were drained: commit what finished in them.</summary>
    public abstract void Revoked(IReadOnlyList<TopicPartition> partitions);

    /// <summary>Inside the lost callback (not after a crash): the partitions' offsets must not be committed.</summary>
    public virtual void Lost(IReadOnlyList<TopicPartition> partitions) { }

    /// <summary>The partition is no longer this worker's (revoked after <see cref="Revoked"/>, or lost).</summary>
    public virtual void Forget(TopicPartition partition) { }

    /// <summary>At the orderly end of the run, after the shutdown drain: wait for outstanding acknowledgements.</summary>
    public virtual void Flush() { }

    /// <summary>At the orderly end of the run, after <see cref="Flush"/>: commit everything finished.</summary>
    public abstract void CommitFinished();
}
