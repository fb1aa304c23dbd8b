using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Kafka;

namespace Moderation.Streams.Review;

/// <summary>
/// Reads an upload back from its record on the uploads topic (the decision's <c>source</c>): the console stores no media
/// and no upload copies, Kafka is the record. One assign-only consumer (no group, nothing committed), one read at a time.
/// </summary>
public sealed class UploadLookup : IDisposable
{
    private readonly IConsumer<byte[]?, byte[]?> _consumer;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TimeSpan _timeout;
    private readonly EventLimits _limits;

    public UploadLookup(KafkaOptions kafka, TimeSpan? timeout = null, EventLimits? limits = null)
    {
        var config = KafkaClientConfig.Consumer(kafka);
        config.GroupId = "moderation-review-lookup";
        config.GroupInstanceId = null;
        config.EnableAutoCommit = false;
        config.IsolationLevel = IsolationLevel.ReadUncommitted;
        _consumer = new ConsumerBuilder<byte[]?, byte[]?>(config).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        _timeout = timeout ?? TimeSpan.FromSeconds(5);
        _limits = limits ?? EventLimits.Default;
    }

    /// <summary>The upload the decision was made for, or null when its record is gone (retention), unreadable, or names
    /// another content id (a topic rebuilt or a decision published by hand).</summary>
    public async Task<UploadEvent?> FindAsync(DecisionEvent decision, CancellationToken ct)
    {
        if (decision.Source is not { Topic: { Length: > 0 } topic } source || source.Partition < 0 || source.Offset < 0) return null;
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return await Task.Run(() => Read(new TopicPartitionOffset(topic, source.Partition, source.Offset), decision.ContentId, ct), ct).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private UploadEvent? Read(TopicPartitionOffset at, string contentId, CancellationToken ct)
    {
        _consumer.Assign(at);
        try
        {
            var deadline = DateTime.UtcNow + _timeout;
            while (DateTime.UtcNow < deadline && !ct.IsCancellationRequested)
            {
                ConsumeResult<byte[]?, byte[]?>? record;
                try
                {
                    record = _consumer.Consume(TimeSpan.FromMilliseconds(200));
                }
                catch (ConsumeException)
                {
                    return null;
                }
                if (record is null || record.IsPartitionEOF) continue;
                if (record.Offset != at.Offset) return null; // compacted or deleted: not this upload
                try
                {
                    var upload = UploadEventParser.Parse(record.Message.Value ?? [], _limits);
                    return upload.ContentId == contentId ? upload : null;
                }
                catch (ModerationException)
                {
                    return null;
                }
            }
            return null;
        }
        finally
        {
            _consumer.Unassign();
        }
    }

    public void Dispose()
    {
        _consumer.Dispose();
        _gate.Dispose();
    }
}
