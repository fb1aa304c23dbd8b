using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Moderation.Streams.Contracts;
using Moderation.Streams.Kafka;
using Testcontainers.Kafka;

namespace Moderation.Streams.Kafka.Tests;

/// <summary>
/// Exactly-once needs a real broker (the embedded one stores no transactional offsets and shows aborted
/// records): these tests run against Kafka in a container wherever a Docker engine is reachable, and are
/// skipped, saying why, where none is.
/// </summary>
public sealed class ExactlyOnceOnRealKafkaTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed class EchoHandler(KafkaOptions options) : IUploadHandler
    {
        public Task<IReadOnlyList<OutboundMessage>> HandleAsync(ConsumeResult<byte[]?, byte[]?> upload, CancellationToken ct)
        {
            var key = Encoding.UTF8.GetString(upload.Message.Key!);
            IReadOnlyList<OutboundMessage> outcome = [new OutboundMessage(options.AllowTopic, upload.Message.Key, Encoding.UTF8.GetBytes(key), new Headers())];
            return Task.FromResult(outcome);
        }
    }

    [Fact]
    public async Task A_worker_that_dies_mid_transaction_leaves_no_duplicate_for_read_committed_consumers()
    {
        DockerEngine.Require("exactly-once");
        await using var kafka = new KafkaBuilder("confluentinc/cp-kafka:7.6.1").Build();
        await kafka.StartAsync(Ct);
        var bootstrap = kafka.GetBootstrapAddress();
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build())
        {
            await admin.CreateTopicsAsync(Topics.All.Select(t => new TopicSpecification { Name = t, NumPartitions = 3, ReplicationFactor = 1 }));
        }
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = bootstrap, EnableIdempotence = true }).Build())
        {
            for (int i = 0; i < 300; i++) producer.Produce(Topics.Uploads, new Message<string, string> { Key = $"u-{i:D4}", Value = "{}" });
            producer.Flush(TimeSpan.FromSeconds(30));
        }
        var options = new KafkaOptions
        {
            BootstrapServers = bootstrap, GroupId = "eos", Mode = DeliveryModes.ExactlyOnce, TransactionalId = "eos-worker-0",
            SessionTimeoutMs = 6000, TransactionInterval = TimeSpan.FromMilliseconds(100),
        };

        // The first instance commits some transactions and is then replaced while its last one is open.
        var first = new UploadConsumer(options, new EchoHandler(options), ConsoleTestLogger.Instance);
        using var stopFirst = new CancellationTokenSource();
        var firstRun = Task.Run(() => first.RunAsync(stopFirst.Token), Ct);
        Assert.True(await Eventually.Holds(() => first.UploadsCommitted >= 100, firstRun, TimeSpan.FromSeconds(60)));
        // A restarted instance with the same transactional id fences the first and aborts its open transaction.
        using var second = new UploadConsumer(options, new EchoHandler(options), ConsoleTestLogger.Instance);
        using var stopSecond = new CancellationTokenSource();
        var run = Task.Run(() => second.RunAsync(stopSecond.Token), Ct);
        await Eventually.Holds(() => second.UploadsCommitted + first.UploadsCommitted >= 300, run, TimeSpan.FromSeconds(120));
        await stopSecond.CancelAsync();
        await run;

        using var reader = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap, GroupId = "verifier", AutoOffsetReset = AutoOffsetReset.Earliest, IsolationLevel = IsolationLevel.ReadCommitted,
        }).Build();
        reader.Subscribe(Topics.Allow);
        var keys = new List<string>();
        var readUntil = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < readUntil && keys.Count < 300 + 50)
            if (reader.Consume(TimeSpan.FromMilliseconds(200))?.Message is { } m) keys.Add(m.Key);
        Assert.Equal(Enumerable.Range(0, 300).Select(i => $"u-{i:D4}"), keys.Order());
        first.Dispose();
    }
}
