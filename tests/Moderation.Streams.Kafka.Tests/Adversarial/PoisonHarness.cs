using System.Text;
using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Embedded;

namespace Moderation.Streams.Kafka.Tests.Adversarial;

/// <summary>An embedded broker with the uploads topic, raw producing of hostile records, and reading back what a
/// consumer published and committed.</summary>
/// <param name="topics">The topics that exist (the contract's by default); producers may not create others when
/// <c>allow.auto.create.topics</c> is false.</param>
internal sealed class PoisonHarness(IReadOnlyList<string>? topics = null) : IDisposable
{
    public const int Partitions = 1;
    public EmbeddedKafkaBroker Broker { get; } = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Partitions = Partitions, Topics = topics ?? Topics.All });

    public void Dispose() => Broker.Dispose();

    public KafkaOptions Options(Action<KafkaOptions>? configure = null)
    {
        var options = new KafkaOptions
        {
            BootstrapServers = Broker.BootstrapServers,
            GroupId = "g-" + Guid.NewGuid().ToString("N")[..8],
            SessionTimeoutMs = 6000,
            ShutdownTimeout = TimeSpan.FromSeconds(20),
            CommitInterval = TimeSpan.FromMilliseconds(200),
        };
        configure?.Invoke(options);
        return options;
    }

    /// <summary>Produces the records in order (one partition: their order is the offsets' order), up to 2 MB each: a
    /// real broker's default limit (1 MiB + 12 bytes) is over the worker's producer default (1,000,000 bytes).</summary>
    public void Produce(IEnumerable<Message<byte[]?, byte[]?>> records)
    {
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig
        {
            BootstrapServers = Broker.BootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            MaxInFlight = 1,
            MessageMaxBytes = 2_000_000,
        }).Build();
        foreach (var record in records) producer.Produce(Topics.Uploads, record);
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
    }

    public static Message<byte[]?, byte[]?> Good(string key) => new() { Key = Encoding.UTF8.GetBytes(key), Value = "{}"u8.ToArray() };

    public sealed record Published(string Topic, byte[]? Key, byte[] Value, Headers Headers)
    {
        public string KeyText => Key is null ? "" : Encoding.UTF8.GetString(Key);
        public string? Header(string name) => Headers.TryGetLastBytes(name, out var v) ? Encoding.UTF8.GetString(v) : null;
        public string? FirstHeader(string name) => Headers.FirstOrDefault(h => h.Key == name)?.GetValueBytes() is { } v ? Encoding.UTF8.GetString(v) : null;
        public long Size => (Key?.Length ?? 0) + Value.Length + Headers.Sum(h => Encoding.UTF8.GetByteCount(h.Key) + (h.GetValueBytes()?.Length ?? 0));
    }

    /// <summary>Every record of <paramref name="topic"/> (reads up to the high watermark).</summary>
    public List<Published> Read(string topic)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
        {
            BootstrapServers = Broker.BootstrapServers,
            GroupId = "reader-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
        }).Build();
        var records = new List<Published>();
        var deadline = DateTime.UtcNow + BrokerClients.Deadline;
        var metadata = BrokerClients.Metadata(Broker.BootstrapServers).Topics.SingleOrDefault(t => t.Topic == topic);
        foreach (var partition in (metadata?.Partitions ?? []).Select(p => new TopicPartition(topic, p.PartitionId)))
        {
            var high = consumer.QueryWatermarkOffsets(partition, BrokerClients.Deadline).High;
            if (high.Value <= 0) continue;
            consumer.Assign(new TopicPartitionOffset(partition, Offset.Beginning));
            long next = 0;
            while (next < high.Value && DateTime.UtcNow < deadline)
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is not { Message: not null } r) continue;
                records.Add(new Published(r.Topic, r.Message.Key, r.Message.Value ?? [], r.Message.Headers));
                next = r.Offset.Value + 1;
            }
        }
        return records;
    }

    public (long Committed, long High) Committed(string groupId)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = Broker.BootstrapServers, GroupId = groupId }).Build();
        var partition = new TopicPartition(Topics.Uploads, 0);
        var committed = consumer.Committed([partition], TimeSpan.FromSeconds(10));
        return (committed[0].Offset.Value, consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(10)).High.Value);
    }
}
