using System.Net;
using System.Net.Sockets;
using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Kafka.Tests;

namespace Moderation.Streams.Embedded.Tests;

public sealed class EmbeddedBrokerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Keyed_messages_produced_with_acks_all_come_back_in_key_order_to_a_group_that_commits_manually()
    {
        using var broker = EmbeddedKafkaBroker.Start();
        broker.CreateTopic("orders", partitions: 4);
        const int count = 500, keys = 20;

        var delivered = await BrokerClients.ProduceKeyedAsync(broker.BootstrapServers, "orders", count, keys, Ct);

        Assert.All(delivered, d => Assert.Equal(PersistenceStatus.Persisted, d.Status));
        using var consumer = BrokerClients.Consumer(broker.BootstrapServers, "orders-group");
        consumer.Subscribe("orders");
        var received = BrokerClients.ConsumeAndCommit(consumer, count, Ct);

        Assert.Equal(
            Enumerable.Range(0, count).Select(i => $"value-{i}").Order(),
            received.Select(r => r.Message.Value).Order());
        foreach (var perKey in received.GroupBy(r => r.Message.Key))
        {
            var sent = Enumerable.Range(0, count).Where(i => $"key-{i % keys}" == perKey.Key).Select(i => $"value-{i}");
            Assert.Equal(sent, perKey.Select(r => r.Message.Value));
            Assert.Single(perKey.Select(r => r.Partition).Distinct());
        }
        var partitions = Enumerable.Range(0, 4).Select(p => new TopicPartition("orders", p)).ToList();
        var committed = consumer.Committed(partitions, TimeSpan.FromSeconds(10));
        foreach (var c in committed)
        {
            var high = consumer.QueryWatermarkOffsets(c.TopicPartition, TimeSpan.FromSeconds(10)).High;
            Assert.Equal(high, c.Offset);
        }
        Assert.Equal(count, committed.Sum(c => c.Offset.Value));
    }

    [Fact]
    public void Every_contract_topic_exists_with_the_requested_partition_count()
    {
        using var broker = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Partitions = 6 });

        var metadata = BrokerClients.Metadata(broker.BootstrapServers);

        foreach (var topic in Topics.All)
        {
            var found = Assert.Single(metadata.Topics, t => t.Topic == topic);
            Assert.Equal(ErrorCode.NoError, found.Error.Code);
            Assert.Equal(6, found.Partitions.Count);
        }
    }

    [Fact]
    public void Only_the_requested_topics_are_created()
    {
        using var broker = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Topics = ["a", "b"], Partitions = 2 });

        var metadata = BrokerClients.Metadata(broker.BootstrapServers);

        Assert.Equal(["a", "b"], metadata.Topics.Select(t => t.Topic).Order());
    }

    [Fact]
    public void CreateTopic_adds_a_topic_with_its_partition_count_and_refuses_an_existing_name()
    {
        using var broker = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Brokers = 3 });

        broker.CreateTopic("replicated", partitions: 7, replicationFactor: 3);

        var metadata = BrokerClients.Metadata(broker.BootstrapServers);
        Assert.Equal(3, metadata.Brokers.Count);
        var topic = Assert.Single(metadata.Topics, t => t.Topic == "replicated");
        Assert.Equal(7, topic.Partitions.Count);
        Assert.All(topic.Partitions, p => Assert.Equal(3, p.Replicas.Length));
        var error = Assert.Throws<EmbeddedBrokerException>(() => broker.CreateTopic("replicated", 1));
        Assert.Contains("replicated", error.Message);
        Assert.Contains("already exists", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Two_brokers_in_one_process_keep_separate_topics_and_data()
    {
        using var first = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Topics = [] });
        using var second = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Topics = [] });
        first.CreateTopic("only-in-first", 1);
        second.CreateTopic("only-in-second", 1);

        await BrokerClients.ProduceKeyedAsync(first.BootstrapServers, "only-in-first", 3, 1, Ct);

        Assert.NotEqual(first.BootstrapServers, second.BootstrapServers);
        Assert.Equal(["only-in-first"], BrokerClients.Metadata(first.BootstrapServers).Topics.Select(t => t.Topic));
        Assert.Equal(["only-in-second"], BrokerClients.Metadata(second.BootstrapServers).Topics.Select(t => t.Topic));
        using var consumer = BrokerClients.Consumer(first.BootstrapServers, "g");
        Assert.Equal(3, consumer.QueryWatermarkOffsets(new TopicPartition("only-in-first", 0), TimeSpan.FromSeconds(10)).High.Value);
    }

    [Fact]
    public async Task Dispose_closes_every_broker_listener_and_is_idempotent()
    {
        var broker = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Brokers = 2 });
        var endpoints = broker.BrokerAddresses.Split(',').Select(IPEndPoint.Parse).ToList();
        Assert.Equal(2, endpoints.Count);
        foreach (var endpoint in endpoints) await ConnectAsync(endpoint);

        broker.Dispose();
        broker.Dispose();

        foreach (var endpoint in endpoints)
        {
            var refused = await Assert.ThrowsAsync<SocketException>(() => ConnectAsync(endpoint));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        }
        Assert.Throws<ObjectDisposedException>(() => broker.CreateTopic("late", 1));
    }

    [Fact]
    public async Task A_fixed_bootstrap_port_relays_clients_to_the_brokers_until_disposed()
    {
        var port = BrokerPorts.Free();
        var broker = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Port = port, Brokers = 2, Topics = ["t"], Partitions = 2 });
        try
        {
            Assert.Equal($"127.0.0.1:{port}", broker.BootstrapServers);
            Assert.DoesNotContain($":{port}", broker.BrokerAddresses);

            await BrokerClients.ProduceKeyedAsync(broker.BootstrapServers, "t", 10, 5, Ct);
            using var consumer = BrokerClients.Consumer(broker.BootstrapServers, "relay");
            consumer.Subscribe("t");
            Assert.Equal(10, BrokerClients.ConsumeAndCommit(consumer, 10, Ct).Count);
            consumer.Close();
        }
        finally
        {
            broker.Dispose();
        }

        var refused = await Assert.ThrowsAsync<SocketException>(() => ConnectAsync(new IPEndPoint(IPAddress.Loopback, port)));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Fact]
    public void A_bootstrap_port_in_use_is_a_clear_error()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port;

        var error = Assert.Throws<EmbeddedBrokerException>(() => EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Port = port }));

        Assert.Contains($"127.0.0.1:{port}", error.Message);
    }

    [Theory]
    [InlineData(0, 4, null)]
    [InlineData(1, 0, null)]
    [InlineData(1, 4, 0)]
    [InlineData(1, 4, 70000)]
    public void Out_of_range_options_are_rejected_before_anything_starts(int brokers, int partitions, int? port)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Brokers = brokers, Partitions = partitions, Port = port }));
    }

    private static async Task ConnectAsync(IPEndPoint endpoint)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endpoint, Ct);
    }
}
