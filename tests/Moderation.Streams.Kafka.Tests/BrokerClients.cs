using Confluent.Kafka;

namespace Moderation.Streams.Kafka.Tests;

/// <summary>Confluent clients configured for the embedded broker, and a bounded consume loop.</summary>
internal static class BrokerClients
{
    /// <summary>A deadline for waiting on the broker, never a timing assertion.</summary>
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    public static IProducer<string, string> Producer(string bootstrap) =>
        new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = bootstrap,
            Acks = Acks.All,
            EnableIdempotence = true,
            LingerMs = 5,
        }).Build();

    public static IConsumer<string, string> Consumer(string bootstrap, string group) =>
        new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = group,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            // Mock rebalances after the first join take session.timeout.ms − 1000: keep it small.
            SessionTimeoutMs = 3000,
            HeartbeatIntervalMs = 500,
        }).Build();

    public static IAdminClient Admin(string bootstrap) =>
        new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();

    public static Metadata Metadata(string bootstrap)
    {
        using var admin = Admin(bootstrap);
        return admin.GetMetadata(TimeSpan.FromSeconds(10));
    }

    /// <summary>Produces <paramref name="count"/> messages keyed <c>key-(i % keys)</c> and waits for every ack.</summary>
    public static async Task<IReadOnlyList<DeliveryResult<string, string>>> ProduceKeyedAsync(
        string bootstrap, string topic, int count, int keys, CancellationToken ct)
    {
        using var producer = Producer(bootstrap);
        var pending = new Task<DeliveryResult<string, string>>[count];
        for (var i = 0; i < count; i++)
            pending[i] = producer.ProduceAsync(topic, new Message<string, string> { Key = $"key-{i % keys}", Value = $"value-{i}" }, ct);
        return await Task.WhenAll(pending);
    }

    /// <summary>Consumes until <paramref name="count"/> messages arrived, storing and committing each offset.</summary>
    public static List<ConsumeResult<string, string>> ConsumeAndCommit(IConsumer<string, string> consumer, int count, CancellationToken ct)
    {
        var received = new List<ConsumeResult<string, string>>(count);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(Deadline);
        while (received.Count < count)
        {
            ConsumeResult<string, string>? result;
            try
            {
                result = consumer.Consume(deadline.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException($"Received {received.Count} of {count} messages before the {Deadline.TotalSeconds} s deadline.");
            }
            if (result is null || result.IsPartitionEOF) continue;
            received.Add(result);
            consumer.StoreOffset(result);
        }
        consumer.Commit();
        return received;
    }
}
