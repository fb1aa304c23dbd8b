using Confluent.Kafka;

namespace Moderation.Streams.Kafka;

/// <summary>
/// The librdkafka settings of the clients that consume uploads and publish outcomes, in one place:
/// <see cref="UploadConsumer"/> and <see cref="Replay.ReplayRunner"/> publish through the same <see cref="Producer"/>
/// (exactly-once adds a transactional id to it). Each starts from <see cref="KafkaSecurity.Properties"/>, so
/// <c>Kafka:Properties</c> and <c>Kafka:Security</c> reach every client.
/// </summary>
public static class KafkaClientConfig
{
    /// <summary>The worker's group consumer: offsets stored by the consume loop (gap-free), committed from the store
    /// (at-least-once) or inside the producer's transactions (exactly-once).</summary>
    public static ConsumerConfig Consumer(KafkaOptions options) => new(KafkaSecurity.Properties(options))
    {
        BootstrapServers = options.BootstrapServers,
        GroupId = options.GroupId,
        // Offsets are committed by the delivery mode: at-least-once every CommitInterval on the consumer's clock (and on
        // revoke and shutdown), exactly-once inside the producer's transactions; never by librdkafka's timer.
        EnableAutoCommit = false,
        EnableAutoOffsetStore = false,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
        SessionTimeoutMs = options.SessionTimeoutMs,
        HeartbeatIntervalMs = options.HeartbeatIntervalMs,
        MaxPollIntervalMs = options.MaxPollIntervalMs,
        FetchWaitMaxMs = options.FetchWaitMaxMs,
        EnablePartitionEof = false,
        GroupInstanceId = string.IsNullOrWhiteSpace(options.GroupInstanceId) ? null : options.GroupInstanceId,
        IsolationLevel = IsolationLevel.ReadCommitted,
    };

    /// <summary>The outcome producer: idempotent, acks=all. Never transactional, whatever <see cref="KafkaOptions.Mode"/>
    /// says (a replay copies the live settings, mode included, and publishes without transactions).</summary>
    public static ProducerConfig Producer(KafkaOptions options) => new(KafkaSecurity.Properties(options))
    {
        BootstrapServers = options.BootstrapServers,
        EnableIdempotence = true,
        Acks = Acks.All,
        LingerMs = 5,
        MessageTimeoutMs = 120_000,
    };

    /// <summary>The outcome producer of exactly-once mode: <see cref="Producer"/> with a <c>transactional.id</c>
    /// (<see cref="KafkaOptions.TransactionalId"/>, default group id + host name).</summary>
    public static ProducerConfig TransactionalProducer(KafkaOptions options)
    {
        var config = Producer(options);
        config.TransactionalId = options.TransactionalId ?? $"{options.GroupId}-{Environment.MachineName}";
        config.TransactionTimeoutMs = 60_000;
        config.MessageTimeoutMs = 60_000; // must not exceed the transaction timeout
        return config;
    }
}
