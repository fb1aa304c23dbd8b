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
    public void Free_form_properties_change_the_defaults_and_client_specific_ones_reach_only_their_client()
    {
        var options = new KafkaOptions
        {
            Properties = { ["message.timeout.ms"] = "3000", ["client.rack"] = "eu-1a" },
            ProducerProperties = { ["linger.ms"] = "20" },
            ConsumerProperties = { ["fetch.max.bytes"] = "1048576" },
        };
        var producer = KafkaClientConfig.Producer(options);
        var consumer = KafkaClientConfig.Consumer(options);
        Assert.Equal(3000, producer.MessageTimeoutMs);
        Assert.Equal(20, producer.LingerMs);
        Assert.Equal("eu-1a", producer.Get("client.rack"));
        Assert.Equal("eu-1a", consumer.Get("client.rack"));
        Assert.Null(producer.Get("fetch.max.bytes"));
        Assert.Equal(1048576, consumer.FetchMaxBytes);
        Assert.Null(consumer.Get("linger.ms"));
        Assert.Equal("1048576", KafkaSecurity.ConsumerProperties(options)["fetch.max.bytes"]);
        Assert.False(KafkaSecurity.Properties(options).ContainsKey("fetch.max.bytes"));

        // Our defaults where nothing is said; the transactional producer keeps its timeout within the transaction's.
        var plain = KafkaClientConfig.Producer(new KafkaOptions());
        Assert.Equal((5.0, 120_000), ((double)plain.LingerMs!, plain.MessageTimeoutMs!.Value));
        Assert.Equal(3000, KafkaClientConfig.TransactionalProducer(options).MessageTimeoutMs);
        Assert.Equal(60_000, KafkaClientConfig.TransactionalProducer(new KafkaOptions()).MessageTimeoutMs);
    }

    [Theory]
    [InlineData("Properties", "enable.auto.commit", "true", "Kafka:Properties:enable.auto.commit is refused: offsets are committed by the delivery mode")]
    [InlineData("Properties", "acks", "1", "Kafka:Properties:acks is refused: outcomes wait for all in-sync replicas")]
    [InlineData("ConsumerProperties", "isolation.level", "read_uncommitted", "Kafka:ConsumerProperties:isolation.level is refused: uploads are read committed")]
    [InlineData("ConsumerProperties", "group.id", "other", "Kafka:ConsumerProperties:group.id is refused: set Kafka:GroupId")]
    [InlineData("ProducerProperties", "enable.idempotence", "false", "Kafka:ProducerProperties:enable.idempotence is refused: outcomes are published idempotently")]
    [InlineData("ProducerProperties", "bootstrap.servers", "elsewhere:9092", "Kafka:ProducerProperties:bootstrap.servers is refused: set Kafka:BootstrapServers")]
    public void A_free_form_property_the_guarantees_rest_on_is_refused_at_validation_and_when_a_client_is_built(string section, string key, string value, string expected)
    {
        var options = new KafkaOptions();
        var properties = section switch
        {
            "Properties" => options.Properties,
            "ConsumerProperties" => options.ConsumerProperties,
            _ => options.ProducerProperties,
        };
        properties[key] = value;
        var results = options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)).ToList();
        Assert.Equal(expected, Assert.Single(results).ErrorMessage);
        Assert.Equal(expected, Assert.Throws<InvalidOperationException>(() => KafkaClientConfig.Producer(options)).Message);
        Assert.Equal(expected, Assert.Throws<InvalidOperationException>(() => KafkaClientConfig.Consumer(options)).Message);
    }

    [Fact]
    public void A_consumer_setting_in_the_producer_section_is_not_refused_and_the_security_section_wins_over_free_form_ones()
    {
        var options = new KafkaOptions { ProducerProperties = { ["isolation.level"] = "read_uncommitted" }, Properties = { ["security.protocol"] = "ssl" } };
        Assert.Empty(options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)));
        Assert.Equal(IsolationLevel.ReadCommitted, KafkaClientConfig.Consumer(options).IsolationLevel);
        options.Security.Protocol = "plaintext";
        Assert.Equal(SecurityProtocol.Plaintext, KafkaClientConfig.Producer(options).SecurityProtocol);
        Assert.Equal(SecurityProtocol.Plaintext, KafkaClientConfig.Consumer(options).SecurityProtocol);
    }

    [Fact]
    public void The_brokers_hold_on_an_empty_fetch_is_the_configured_one_short_by_default()
    {
        // librdkafka's own 500 ms held every resumed partition (after backpressure) and, on the embedded broker, every upload.
        Assert.Equal(50, KafkaClientConfig.Consumer(new KafkaOptions()).FetchWaitMaxMs);
        Assert.Equal(500, KafkaClientConfig.Consumer(new KafkaOptions { FetchWaitMaxMs = 500 }).FetchWaitMaxMs);
    }
}
