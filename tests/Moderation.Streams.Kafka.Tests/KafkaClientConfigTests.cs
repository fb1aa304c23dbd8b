using Confluent.Kafka;

namespace Moderation.Streams.Kafka.Tests;

/// <summary>One home for the clients' settings: the worker and a replay publish through the same producer settings,
/// and only the exactly-once worker's producer is transactional.</summary>
public sealed class KafkaClientConfigTests
{
    [Fact]
    public void The_outcome_producer_is_idempotent_with_acks_from_every_replica_and_never_transactional()
    {
        // A replay copies the live settings, exactly-once mode included, and publishes without transactions.
        var config = KafkaClientConfig.Producer(new KafkaOptions { BootstrapServers = "kafka-1:9092", Mode = DeliveryModes.ExactlyOnce });
        Assert.Equal("kafka-1:9092", config.BootstrapServers);
        Assert.True(config.EnableIdempotence);
        Assert.Equal(Acks.All, config.Acks);
        Assert.Null(config.TransactionalId);
    }

    [Fact]
    public void The_transactional_producer_is_the_outcome_producer_with_a_stable_id_and_a_message_timeout_within_the_transactions()
    {
        var options = new KafkaOptions { GroupId = "workers", Mode = DeliveryModes.ExactlyOnce };
        var config = KafkaClientConfig.TransactionalProducer(options);
        Assert.True(config.EnableIdempotence);
        Assert.Equal(Acks.All, config.Acks);
        Assert.Equal($"workers-{Environment.MachineName}", config.TransactionalId);
        Assert.True(config.MessageTimeoutMs <= config.TransactionTimeoutMs, $"{config.MessageTimeoutMs} > {config.TransactionTimeoutMs}");

        options.TransactionalId = "worker-0";
        Assert.Equal("worker-0", KafkaClientConfig.TransactionalProducer(options).TransactionalId);
    }

    [Fact]
    public void The_worker_consumer_never_commits_on_librdkafkas_timer_the_delivery_mode_commits_on_its_own_clock()
    {
        var atLeastOnce = KafkaClientConfig.Consumer(new KafkaOptions());
        var exactlyOnce = KafkaClientConfig.Consumer(new KafkaOptions { Mode = DeliveryModes.ExactlyOnce });
        Assert.Equal((false, false), (atLeastOnce.EnableAutoCommit, atLeastOnce.EnableAutoOffsetStore));
        Assert.Equal((false, false), (exactlyOnce.EnableAutoCommit, exactlyOnce.EnableAutoOffsetStore));
        Assert.All([atLeastOnce, exactlyOnce], c => Assert.Equal(IsolationLevel.ReadCommitted, c.IsolationLevel));
    }

    [Fact]
    public void Static_membership_and_heartbeat_reach_the_consumer_and_a_blank_instance_id_means_dynamic_membership()
    {
        var config = KafkaClientConfig.Consumer(new KafkaOptions { GroupInstanceId = "moderation-worker-7f9c-x2" });
        Assert.Equal("moderation-worker-7f9c-x2", config.GroupInstanceId);
        Assert.Equal(PartitionAssignmentStrategy.CooperativeSticky, config.PartitionAssignmentStrategy);
        var defaults = new KafkaOptions();
        Assert.Equal((defaults.SessionTimeoutMs, defaults.HeartbeatIntervalMs), (config.SessionTimeoutMs, config.HeartbeatIntervalMs));
        Assert.True(defaults.HeartbeatIntervalMs * 3 <= defaults.SessionTimeoutMs, "heartbeat above a third of the session timeout");
        Assert.Null(KafkaClientConfig.Consumer(new KafkaOptions { GroupInstanceId = " " }).GroupInstanceId);
        Assert.Null(KafkaClientConfig.Consumer(new KafkaOptions()).GroupInstanceId);
    }

    [Fact]
    public void The_brokers_hold_on_an_empty_fetch_is_the_configured_one_short_by_default()
    {
        // librdkafka's own 500 ms held every resumed partition (after backpressure) and, on the embedded broker, every upload.
        Assert.Equal(50, KafkaClientConfig.Consumer(new KafkaOptions()).FetchWaitMaxMs);
        Assert.Equal(500, KafkaClientConfig.Consumer(new KafkaOptions { FetchWaitMaxMs = 500 }).FetchWaitMaxMs);
    }
}
