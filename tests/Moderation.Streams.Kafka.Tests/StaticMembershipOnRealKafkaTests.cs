using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Moderation.Streams.Contracts;
using Moderation.Streams.Kafka;
using Testcontainers.Kafka;

namespace Moderation.Streams.Kafka.Tests;

/// <summary>
/// Static membership needs a real broker: librdkafka's mock cluster looks members up by member id and ignores
/// <c>group.instance.id</c>. These tests run against Kafka in a container wherever a Docker engine is reachable and
/// are skipped, saying why, where none is.
/// </summary>
public sealed class StaticMembershipOnRealKafkaTests
{
    private const int Partitions = 6;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed class EchoHandler(KafkaOptions options) : IUploadHandler
    {
        public Task<IReadOnlyList<OutboundMessage>> HandleAsync(ConsumeResult<byte[]?, byte[]?> upload, CancellationToken ct)
        {
            IReadOnlyList<OutboundMessage> outcome = [new OutboundMessage(options.AllowTopic, upload.Message.Key, upload.Message.Value ?? [], new Headers())];
            return Task.FromResult(outcome);
        }
    }

    private sealed class Member : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        public UploadConsumer Consumer { get; }
        public Task Run { get; }

        public Member(KafkaOptions options)
        {
            Consumer = new UploadConsumer(options, new EchoHandler(options), ConsoleTestLogger.Instance);
            Run = Task.Run(() => Consumer.RunAsync(_stop.Token), Ct);
        }

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await Run;
            Consumer.Dispose();
        }

        public void Dispose()
        {
            _stop.Cancel();
            Consumer.Dispose();
            _stop.Dispose();
        }
    }

    private static async Task<string> StartKafkaAsync(KafkaContainer kafka)
    {
        await kafka.StartAsync(Ct);
        var bootstrap = kafka.GetBootstrapAddress();
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
        await admin.CreateTopicsAsync(Topics.All.Select(t => new TopicSpecification { Name = t, NumPartitions = Partitions, ReplicationFactor = 1 }));
        return bootstrap;
    }

    private static void Produce(string bootstrap, int from, int count)
    {
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = bootstrap, EnableIdempotence = true }).Build();
        for (int i = from; i < from + count; i++) producer.Produce(Topics.Uploads, new Message<string, string> { Key = $"u-{i:D4}", Value = "{}" });
        producer.Flush(TimeSpan.FromSeconds(30));
    }

    private static KafkaOptions Options(string bootstrap, string? instance) => new()
    {
        BootstrapServers = bootstrap, GroupId = "static", GroupInstanceId = instance,
        SessionTimeoutMs = 30_000, HeartbeatIntervalMs = 1000,
    };

    /// <summary>Two members own all partitions and the group has been quiet for three seconds.</summary>
    private static async Task SettleAsync(Member a, Member b)
    {
        long changes = -1;
        var quietSince = DateTime.UtcNow;
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            long now = a.Consumer.AssignmentChanges + b.Consumer.AssignmentChanges;
            bool owned = a.Consumer.AssignedPartitions > 0 && b.Consumer.AssignedPartitions > 0
                && a.Consumer.AssignedPartitions + b.Consumer.AssignedPartitions == Partitions;
            if (now != changes || !owned) { changes = now; quietSince = DateTime.UtcNow; }
            else if (DateTime.UtcNow - quietSince > TimeSpan.FromSeconds(3)) return;
            await Task.Delay(200, Ct);
        }
        Assert.Fail($"the group did not settle: {a.Consumer.AssignedPartitions} + {b.Consumer.AssignedPartitions} partitions");
    }

    private static async Task<long> RestartFirstAndCountPeerChangesAsync(string bootstrap, string? first, string? second)
    {
        using var a = new Member(Options(bootstrap, first));
        using var b = new Member(Options(bootstrap, second));
        Produce(bootstrap, 0, 60);
        await SettleAsync(a, b);
        int owned = a.Consumer.AssignedPartitions;
        long peerBefore = b.Consumer.AssignmentChanges;

        // A pod restart: the member stops cleanly and comes back with the same identity within the session timeout.
        await a.StopAsync();
        using var again = new Member(Options(bootstrap, first));
        Produce(bootstrap, 60, 60);
        Assert.True(await Eventually.Holds(() => again.Consumer.AssignedPartitions + b.Consumer.AssignedPartitions == Partitions
            && again.Consumer.AssignedPartitions > 0, again.Run, TimeSpan.FromSeconds(60)));
        // Let a rebalance, if one is coming, reach the peer.
        await Task.Delay(TimeSpan.FromSeconds(5), Ct);
        if (first is not null) Assert.Equal(owned, again.Consumer.AssignedPartitions);
        long peerChanges = b.Consumer.AssignmentChanges - peerBefore;
        await again.StopAsync();
        await b.StopAsync();
        return peerChanges;
    }

    [Fact]
    public async Task A_restarted_static_member_gets_its_partitions_back_without_rebalancing_its_peer()
    {
        DockerEngine.Require("static membership");
        await using var kafka = new KafkaBuilder("confluentinc/cp-kafka:7.6.1").Build();
        var bootstrap = await StartKafkaAsync(kafka);
        Assert.Equal(0, await RestartFirstAndCountPeerChangesAsync(bootstrap, "worker-a", "worker-b"));
    }

    [Fact]
    public async Task Without_an_instance_id_the_same_restart_rebalances_the_peer()
    {
        // The control: it shows the peer's count does move when the group rebalances, so the test above can fail.
        DockerEngine.Require("static membership");
        await using var kafka = new KafkaBuilder("confluentinc/cp-kafka:7.6.1").Build();
        var bootstrap = await StartKafkaAsync(kafka);
        Assert.True(await RestartFirstAndCountPeerChangesAsync(bootstrap, null, null) > 0);
    }
}
