using System.Collections.Concurrent;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Moderation.Streams.Kafka;

/// <summary>
/// Exactly-once: outcomes are held until every earlier upload of the partition is done, then produced in offset order
/// inside a transaction that also carries the consumed offsets (<c>SendOffsetsToTransaction</c>); a transaction is
/// committed every <see cref="KafkaOptions.TransactionInterval"/> (on the injected clock) or
/// <see cref="KafkaOptions.TransactionMaxUploads"/>. An abortable error aborts it and rewinds the partitions to the last
/// committed offsets; a fenced producer (a newer instance with the same transactional id) stops the loop.
/// <para>An outcome the broker refuses as a record inside a transaction costs one abort: when its upload is released
/// again, a stub DLQ record (<see cref="OutcomePublisher.StubFor"/>) goes instead, so a poison record is not a loop.</para>
/// </summary>
/// <param name="dropInFlight">The loop forgets every upload in flight (their completions are dropped): called by an abort,
/// before the partitions are rewound.</param>
/// <param name="stop">Records a fatal error and throws it: the loop stops.</param>
internal sealed class ExactlyOnceDelivery(OutcomePublisher publisher, IConsumer<byte[]?, byte[]?> consumer, KafkaOptions options,
    ILogger logger, TimeProvider time, Action dropInFlight, Action<Exception> stop) : OutcomeDelivery
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly IProducer<byte[]?, byte[]?> _producer = publisher.Producer;

    // Owned by the poll thread.
    private readonly Dictionary<TopicPartition, SortedDictionary<long, IReadOnlyList<OutboundMessage>>> _held = [];
    private readonly Dictionary<TopicPartition, long> _transactionOffsets = [];
    private readonly Dictionary<TopicPartition, long> _rewindTo = [];
    private int _transactionUploads;
    private bool _abortPending;
    private bool _commitInProgress;
    private long _transactionStarted;
    // Outcomes the broker refused as records inside a transaction (delivery reports, any thread), and the ones whose
    // uploads will be released again after the abort: stubs take their place.
    private readonly ConcurrentQueue<(TopicPartitionOffset Source, string Topic, Error Error)> _refusedInTransaction = new();
    private readonly Dictionary<(TopicPartitionOffset Source, string Topic), Error> _refusedBefore = [];
    private long _committed, _aborted, _uploadsCommitted;

    public long TransactionsCommitted => Interlocked.Read(ref _committed);
    public long TransactionsAborted => Interlocked.Read(ref _aborted);

    /// <summary>Uploads whose outcomes and offsets are in committed transactions.</summary>
    public long UploadsCommitted => Interlocked.Read(ref _uploadsCommitted);

    public override void Start()
    {
        _producer.InitTransactions(Timeout);
        BeginTransaction();
    }

    // Produced later by the poll thread, in offset order, inside a transaction.
    public override void Deliver(ConsumeResult<byte[]?, byte[]?> upload, IReadOnlyList<OutboundMessage> outcome,
        Action<IReadOnlyList<OutboundMessage>?> finished) => finished(outcome);

    public override void Dispatched(TopicPartition partition, long offset) => _rewindTo.TryAdd(partition, offset);

    public override void Finished(TopicPartition partition, long offset, IReadOnlyList<OutboundMessage>? held)
    {
        if (!_held.TryGetValue(partition, out var queue)) _held[partition] = queue = [];
        queue[offset] = held!;
    }

    public override void Advanced(TopicPartition partition, long next)
    {
        if (!_abortPending) ReleaseHeld(partition, next);
    }

    public override void Tick()
    {
        if (_abortPending)
        {
            AbortAndRewind();
            BeginTransaction();
        }
        MaybeCommitTransaction(force: false);
    }

    public override void Revoked(IReadOnlyList<TopicPartition> partitions)
    {
        // The revoked partitions' outcomes and offsets must leave together: if the commit did not go through,
        // abort, so their new owner neither misses nor repeats them.
        if (!MaybeCommitTransaction(force: true))
        {
            AbortAndRewind();
            BeginTransaction();
        }
    }

    public override void Lost(IReadOnlyList<TopicPartition> partitions)
    {
        if (!_transactionOffsets.Keys.Any(partitions.Contains)) return;
        // Outcomes of a lost partition may already be in the open transaction, without offsets to match.
        AbortAndRewind();
        BeginTransaction();
    }

    public override void Forget(TopicPartition partition)
    {
        _held.Remove(partition);
        _transactionOffsets.Remove(partition);
        _rewindTo.Remove(partition);
    }

    public override void CommitFinished() => MaybeCommitTransaction(force: true);

    /// <summary>Produces, in offset order, the held outcomes below the new committable offset.</summary>
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
                    Action<DeliveryReport<byte[]?, byte[]?>> refusedLater = report =>
                    {
                        // The transaction is aborted and this upload screened again: its stub goes instead, once.
                        if (report.Error.IsError && OutcomePublisher.IsRefusedRecord(report.Error.Code))
                            _refusedInTransaction.Enqueue((source, message.Topic, report.Error));
                    };
                    bool produced;
                    if (_refusedBefore.Remove((source, message.Topic), out var before))
                    {
                        produced = publisher.TryProduce(publisher.StubFor(source, message.Key, message, before), refusedLater);
                    }
                    else
                    {
                        try
                        {
                            produced = publisher.TryProduce(message, refusedLater);
                        }
                        catch (KafkaException e) when (OutcomePublisher.IsRefusedRecord(e.Error.Code))
                        {
                            // Refused before it joined the transaction (librdkafka's own size check): the stub takes its place.
                            produced = publisher.TryProduce(publisher.StubFor(source, message.Key, message, e.Error), refusedLater);
                        }
                    }
                    // Stopped: this partition's offsets stay where they are (its outcomes are redone by the next owner).
                    if (!produced) return;
                }
            }
            catch (KafkaException e) when (!e.Error.IsFatal)
            {
                // An earlier record of this transaction failed: the producer refuses more until it is aborted.
                logger.LogWarning("Transaction needs an abort ({Reason}): rewinding to the last committed offsets", e.Error.Reason);
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
        _transactionStarted = time.GetTimestamp();
        _transactionUploads = 0;
    }

    /// <returns>False when a transaction with work in it is still open (its commit failed and will be retried).</returns>
    private bool MaybeCommitTransaction(bool force)
    {
        if (_transactionOffsets.Count == 0) return true;
        if (!force && _transactionUploads < options.TransactionMaxUploads
            && time.GetElapsedTime(_transactionStarted) < options.TransactionInterval) return true;
        var offsets = _transactionOffsets.Select(kv => new TopicPartitionOffset(kv.Key, new Offset(kv.Value))).ToList();
        try
        {
            // After a retriable commit failure only the commit is retried: the offsets are already in the transaction.
            if (!_commitInProgress) _producer.SendOffsetsToTransaction(offsets, consumer.ConsumerGroupMetadata, Timeout);
            _commitInProgress = true;
            _producer.CommitTransaction(Timeout);
            _commitInProgress = false;
            Interlocked.Increment(ref _committed);
            Interlocked.Add(ref _uploadsCommitted, _transactionUploads);
            foreach (var o in offsets) _rewindTo[o.TopicPartition] = o.Offset.Value;
            _transactionOffsets.Clear();
        }
        catch (KafkaTxnRequiresAbortException e)
        {
            logger.LogWarning("Transaction aborted ({Reason}): rewinding to the last committed offsets", e.Error.Reason);
            AbortAndRewind();
        }
        catch (KafkaRetriableException e)
        {
            // Commit outcome unknown but retriable: keep the transaction open and try again next round.
            logger.LogWarning("Transaction commit will be retried: {Reason}", e.Error.Reason);
            return false;
        }
        catch (KafkaException e) when (e.Error.IsFatal || e.Error.Code is ErrorCode.ProducerFenced or ErrorCode.InvalidProducerEpoch)
        {
            // A newer instance took over this transactional id: this one is a zombie and must stop.
            stop(e);
        }
        catch (KafkaException e)
        {
            // Anything else leaves the transaction in an unknown state: abort it and re-screen from the last commit.
            logger.LogWarning("Transaction failed ({Reason}): aborting and rewinding", e.Error.Reason);
            AbortAndRewind();
        }
        BeginTransaction();
        return true;
    }

    /// <summary>Aborts the open transaction and re-screens everything after the last committed offsets.</summary>
    private void AbortAndRewind()
    {
        _abortPending = false;
        _producer.AbortTransaction(Timeout);
        Interlocked.Increment(ref _aborted);
        _commitInProgress = false;
        var assigned = consumer.Assignment;
        dropInFlight();
        _held.Clear();
        _transactionOffsets.Clear();
        foreach (var partition in assigned)
        {
            if (_rewindTo.TryGetValue(partition, out var offset))
                consumer.Seek(new TopicPartitionOffset(partition, new Offset(offset)));
        }
    }
}
