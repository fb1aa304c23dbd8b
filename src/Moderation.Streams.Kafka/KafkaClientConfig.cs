using Confluent.Kafka;

namespace Moderation.Streams.Kafka;

/// <summary>
/// The librdkafka settings of the clients that consume uploads and publish outcomes, in one place:
/// <see cref="UploadConsumer"/> and <see cref="Replay.ReplayRunner"/> publish through the same <see cref="Producer"/>
/// (exactly-once adds a transactional id to it). Each takes our defaults, then <c>Kafka:Properties</c>, then the
/// client's own <c>Kafka:ConsumerProperties</c> or <c>Kafka:ProducerProperties</c>, then <c>Kafka:Security</c>, then the
/// settings the guarantees rest on (which the free-form sections may not name at all: refused at start).
/// </summary>
public static class KafkaClientConfig
{
    /// <summary>Settings the consumer's delivery guarantees rest on, or that have their own option, with why: never taken
    /// from <c>Kafka:Properties</c> or <c>Kafka:ConsumerProperties</c> (refused at start).</summary>
    public static readonly IReadOnlyDictionary<string, string> GuardedConsumerKeys = new Dictionary<string, string>
    {
        ["bootstrap.servers"] = "set Kafka:BootstrapServers",
        ["group.id"] = "set Kafka:GroupId",
        ["group.instance.id"] = "set Kafka:GroupInstanceId",
        ["enable.auto.commit"] = "offsets are committed by the delivery mode",
        ["enable.auto.offset.store"] = "offsets are stored gap-free by the consume loop",
        ["isolation.level"] = "uploads are read committed",
        ["partition.assignment.strategy"] = "the consume loop needs cooperative-sticky",
        ["enable.partition.eof"] = "the consume loop does not handle end-of-partition events",
        ["session.timeout.ms"] = "set Kafka:SessionTimeoutMs",
        ["heartbeat.interval.ms"] = "set Kafka:HeartbeatIntervalMs",
        ["max.poll.interval.ms"] = "set Kafka:MaxPollIntervalMs",
        ["fetch.wait.max.ms"] = "set Kafka:FetchWaitMaxMs",
    };

    /// <summary>The producer's counterpart of <see cref="GuardedConsumerKeys"/>.</summary>
    public static readonly IReadOnlyDictionary<string, string> GuardedProducerKeys = new Dictionary<string, string>
    {
        ["bootstrap.servers"] = "set Kafka:BootstrapServers",
        ["enable.idempotence"] = "outcomes are published idempotently",
        ["acks"] = "outcomes wait for all in-sync replicas",
        ["transactional.id"] = "set Kafka:TransactionalId",
        ["transaction.timeout.ms"] = "exactly-once mode fixes it at 60000",
    };

    /// <summary>The worker's group consumer: offsets stored by the consume loop (gap-free), committed from the store
    /// (at-least-once) or inside the producer's transactions (exactly-once). <c>Kafka:Properties</c>, then
    /// <c>Kafka:ConsumerProperties</c>, may change any default here except <see cref="GuardedConsumerKeys"/>.</summary>
    /// <exception cref="InvalidOperationException">A guarded key is set, or the security settings are invalid.</exception>
    public static ConsumerConfig Consumer(KafkaOptions options)
    {
        var config = new ConsumerConfig { AutoOffsetReset = AutoOffsetReset.Earliest };
        Overlay(config, options, options.ConsumerProperties);
        config.BootstrapServers = options.BootstrapServers;
        config.GroupId = options.GroupId;
        // Offsets are committed by the delivery mode: at-least-once every CommitInterval on the consumer's clock (and on
        // revoke and shutdown), exactly-once inside the producer's transactions; never by librdkafka's timer.
        config.EnableAutoCommit = false;
        config.EnableAutoOffsetStore = false;
        config.PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky;
        config.SessionTimeoutMs = options.SessionTimeoutMs;
        config.HeartbeatIntervalMs = options.HeartbeatIntervalMs;
        config.MaxPollIntervalMs = options.MaxPollIntervalMs;
        config.FetchWaitMaxMs = options.FetchWaitMaxMs;
        config.EnablePartitionEof = false;
        config.GroupInstanceId = string.IsNullOrWhiteSpace(options.GroupInstanceId) ? null : options.GroupInstanceId;
        config.IsolationLevel = IsolationLevel.ReadCommitted;
        return config;
    }

    /// <summary>The outcome producer: idempotent, acks=all. Never transactional, whatever <see cref="KafkaOptions.Mode"/>
    /// says (a replay copies the live settings, mode included, and publishes without transactions). Its defaults
    /// (<c>linger.ms</c> 5, <c>message.timeout.ms</c> 120000) yield to <c>Kafka:Properties</c> and
    /// <c>Kafka:ProducerProperties</c>; <see cref="GuardedProducerKeys"/> do not.</summary>
    /// <exception cref="InvalidOperationException">A guarded key is set, or the security settings are invalid.</exception>
    public static ProducerConfig Producer(KafkaOptions options)
    {
        var config = new ProducerConfig { LingerMs = 5, MessageTimeoutMs = 120_000 };
        Overlay(config, options, options.ProducerProperties);
        config.BootstrapServers = options.BootstrapServers;
        config.EnableIdempotence = true;
        config.Acks = Acks.All;
        return config;
    }

    /// <summary>The outcome producer of exactly-once mode: <see cref="Producer"/> with a <c>transactional.id</c>
    /// (<see cref="KafkaOptions.TransactionalId"/>, default group id + host name).</summary>
    public static ProducerConfig TransactionalProducer(KafkaOptions options)
    {
        var config = Producer(options);
        config.TransactionalId = options.TransactionalId ?? $"{options.GroupId}-{Environment.MachineName}";
        config.TransactionTimeoutMs = 60_000;
        // Must not exceed the transaction timeout.
        config.MessageTimeoutMs = Math.Min(config.MessageTimeoutMs ?? 60_000, 60_000);
        return config;
    }

    /// <summary>The problems of <paramref name="options"/>' free-form properties: guarded keys, one line each.</summary>
    public static IEnumerable<string> Problems(KafkaOptions options) =>
        GuardedIn(options.Properties, "Kafka:Properties", GuardedConsumerKeys.Concat(GuardedProducerKeys).DistinctBy(k => k.Key))
            .Concat(GuardedIn(options.ConsumerProperties, "Kafka:ConsumerProperties", GuardedConsumerKeys))
            .Concat(GuardedIn(options.ProducerProperties, "Kafka:ProducerProperties", GuardedProducerKeys));

    private static IEnumerable<string> GuardedIn(Dictionary<string, string> properties, string section, IEnumerable<KeyValuePair<string, string>> guarded)
    {
        var keys = guarded.ToDictionary(k => k.Key, k => k.Value, StringComparer.OrdinalIgnoreCase);
        foreach (var key in properties.Keys.Order(StringComparer.Ordinal))
            if (keys.TryGetValue(key.Trim(), out var instead))
                yield return $"{section}:{key} is refused: {instead}";
    }

    private static void Overlay(ClientConfig config, KafkaOptions options, Dictionary<string, string> specific)
    {
        var problems = Problems(options).ToList();
        if (problems.Count > 0) throw new InvalidOperationException(problems[0]);
        foreach (var (key, value) in options.Properties) config.Set(key, value);
        foreach (var (key, value) in specific) config.Set(key, value);
        // Kafka:Security over both: its settings win over free-form ones.
        var security = new Dictionary<string, string>();
        KafkaSecurity.Apply(security, options.Security);
        foreach (var (key, value) in security) config.Set(key, value);
    }
}
