using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Embedded;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media;
using Moderation.Streams.Worker;

namespace Moderation.Streams.Worker.Tests;

/// <summary>A real embedded broker, a real Garnet server, a media root and helpers to publish and read back.</summary>
public sealed class EmbeddedStack : IAsyncDisposable
{
    public const int Partitions = 4;
    public EmbeddedKafkaBroker Broker { get; } = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Partitions = Partitions });
    public EmbeddedRedisServer Redis { get; } = EmbeddedRedisServer.Start();
    public DirectoryInfo MediaRoot { get; } = Directory.CreateTempSubdirectory("worker-tests-");
    public string GroupId { get; } = "workers-" + Guid.NewGuid().ToString("N")[..8];

    public string WriteImage(string name, byte[] bytes)
    {
        var path = Path.Combine(MediaRoot.FullName, name);
        File.WriteAllBytes(path, bytes);
        return new Uri(path).AbsoluteUri;
    }

    public static byte[] Upload(string contentId, string url, string mediaType = MediaTypes.Image) =>
        UploadEventParser.Serialize(new UploadEvent { ContentId = contentId, MediaType = mediaType, Media = new MediaRef { Url = url } });

    public IHost StartWorker(Dictionary<string, string?>? extra = null)
    {
        var overrides = new Dictionary<string, string?>
        {
            ["Kafka:BootstrapServers"] = Broker.BootstrapServers,
            ["Kafka:GroupId"] = GroupId,
            ["Kafka:SessionTimeoutMs"] = "6000",
            ["Redis:Configuration"] = Redis.Configuration,
            ["Media:Root"] = MediaRoot.FullName,
        };
        foreach (var (k, v) in extra ?? []) overrides[k] = v;
        var host = WorkerHost.Build(overrides, logging => logging.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole());
        host.Start();
        host.Services.GetRequiredService<ScreeningService>().Ready.Wait(TimeSpan.FromSeconds(60));
        return host;
    }

    public void Produce(IEnumerable<(string Key, byte[] Value)> uploads, Headers? headers = null)
    {
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = Broker.BootstrapServers, EnableIdempotence = true, Acks = Acks.All }).Build();
        foreach (var (key, value) in uploads)
            producer.Produce(Topics.Uploads, new Message<string, byte[]> { Key = key, Value = value, Headers = headers });
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
    }

    public sealed record Record(string Topic, string? Key, byte[] Value, Headers Headers, int Partition, long Offset)
    {
        public string Header(string name) => Headers.TryGetLastBytes(name, out var v) ? Encoding.UTF8.GetString(v) : "";
        public DecisionEvent Decision => DecisionEvent.FromUtf8Json(Value);
    }

    /// <summary>Reads decisions and DLQ records until <paramref name="count"/> arrived, then keeps reading for
    /// <paramref name="settle"/> more to catch any extra record. The deadline only bounds a hang.</summary>
    public List<Record> ReadOutcomes(int count, TimeSpan? settle = null, TimeSpan? deadline = null)
    {
        using var consumer = new ConsumerBuilder<string?, byte[]>(new ConsumerConfig
        {
            BootstrapServers = Broker.BootstrapServers,
            GroupId = "reader-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
        }).Build();
        consumer.AssignOutcomes(Partitions);
        var records = new List<Record>();
        var end = DateTime.UtcNow + (deadline ?? TimeSpan.FromSeconds(90));
        DateTime? settleUntil = null;
        while (DateTime.UtcNow < (settleUntil ?? end))
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (r?.Message is not null)
                records.Add(new Record(r.Topic, r.Message.Key, r.Message.Value, r.Message.Headers, r.Partition.Value, r.Offset.Value));
            if (records.Count >= count && settleUntil is null) settleUntil = DateTime.UtcNow + (settle ?? TimeSpan.FromSeconds(1));
        }
        return records;
    }

    /// <summary>The group's committed offset for every uploads partition, next to its high watermark.</summary>
    public List<(long Committed, long High)> CommittedVsEnd()
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = Broker.BootstrapServers, GroupId = GroupId }).Build();
        var partitions = Enumerable.Range(0, Partitions).Select(p => new TopicPartition(Topics.Uploads, p)).ToList();
        var committed = consumer.Committed(partitions, TimeSpan.FromSeconds(10));
        return partitions.Select((p, i) => (committed[i].Offset.Value, consumer.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10)).High.Value)).ToList();
    }

    public async ValueTask DisposeAsync()
    {
        Broker.Dispose();
        await Redis.DisposeAsync();
        try { MediaRoot.Delete(true); } catch (IOException) { }
    }
}
