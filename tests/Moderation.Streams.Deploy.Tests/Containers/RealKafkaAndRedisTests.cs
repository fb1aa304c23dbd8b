using System.Net.Sockets;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Worker;
using StackExchange.Redis;
using Testcontainers.Kafka;
using Testcontainers.Redis;

namespace Moderation.Streams.Deploy.Tests.Containers;

/// <summary>
/// Two workers in one consumer group against real Kafka (KRaft) and real Redis images, as the compose stack and
/// the chart run them. Needs a Docker engine; where there is none the tests are skipped and say so (they are
/// never counted as passing).
/// </summary>
public sealed class RealKafkaAndRedisTests
{
    private const string KafkaImage = "confluentinc/cp-kafka:7.5.12";
    private const string RedisImage = "redis:7.4.2-alpine";
    private const int UploadPartitions = 4;

    [Fact]
    public async Task Two_workers_share_the_uploads_partitions_and_decide_every_upload_once_with_decisions_cached_in_redis()
    {
        SkipWithoutDocker();
        var ct = TestContext.Current.CancellationToken;
        await using var kafka = new KafkaBuilder(KafkaImage).WithKRaft().Build();
        await using var redis = new RedisBuilder(RedisImage).Build();
        await Task.WhenAll(kafka.StartAsync(ct), redis.StartAsync(ct));
        var bootstrap = kafka.GetBootstrapAddress();
        await CreateTopics(bootstrap);

        var media = Directory.CreateTempSubdirectory("deploy-tests-media-");
        try
        {
            var images = Directory.EnumerateFiles(Path.Combine(RepoPaths.Deploy, "samples"), "*.png").Order().ToList();
            foreach (var image in images) File.Copy(image, Path.Combine(media.FullName, Path.GetFileName(image)));
            var group = "workers-" + Guid.NewGuid().ToString("N")[..8];
            var overrides = new Dictionary<string, string?>
            {
                ["Kafka:BootstrapServers"] = bootstrap,
                ["Kafka:GroupId"] = group,
                ["Kafka:SessionTimeoutMs"] = "6000",
                ["Redis:Configuration"] = redis.GetConnectionString(),
                ["Media:Root"] = media.FullName,
                ["Telemetry:Port"] = "0", // two workers in one process: each its own free port
            };
            using var first = StartWorker(overrides);
            using var second = StartWorker(overrides);

            // Every sample image three times: the repeats are exact duplicates the decision cache answers.
            var uploads = Enumerable.Range(0, images.Count * 3).Select(i =>
            {
                var file = Path.Combine(media.FullName, Path.GetFileName(images[i % images.Count]));
                var id = $"c-{i}";
                return (id, UploadEventParser.Serialize(new UploadEvent { ContentId = id, MediaType = MediaTypes.Image, Media = new MediaRef { Url = new Uri(file).AbsoluteUri } }));
            }).ToList();
            // The first round is decided before the repeats are sent, so the repeats can only be cache hits.
            Produce(bootstrap, uploads.Take(images.Count));
            Assert.Equal(images.Count, ReadDecisions(bootstrap, images.Count).Count);
            Produce(bootstrap, uploads.Skip(images.Count));

            var decisions = ReadDecisions(bootstrap, uploads.Count);
            Assert.Equal(uploads.Select(u => u.id).Order(), decisions.Select(d => d.ContentId).Order());
            Assert.Equal(uploads.Count - images.Count, decisions.Count(d => d.Cached));

            // Both members of the group own partitions: scale-out is the consumer group, nothing else.
            using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
            var described = await admin.DescribeConsumerGroupsAsync([group]);
            var members = Assert.Single(described.ConsumerGroupDescriptions).Members;
            Assert.Equal(2, members.Count);
            Assert.All(members, m => Assert.NotEmpty(m.Assignment.TopicPartitions));

            await using var connection = await ConnectionMultiplexer.ConnectAsync(redis.GetConnectionString() + ",allowAdmin=true");
            Assert.True(await connection.GetServer(connection.GetEndPoints()[0]).DatabaseSizeAsync() > 0, "no decision was cached in Redis");

            await first.StopAsync(ct);
            await second.StopAsync(ct);
        }
        finally
        {
            media.Delete(true);
        }
    }

    /// <summary>Skips, with the reason, where no Docker engine answers (a CLI without a daemon is not enough).</summary>
    private static void SkipWithoutDocker()
    {
        var host = Environment.GetEnvironmentVariable("DOCKER_HOST");
        if (!string.IsNullOrEmpty(host) && !host.StartsWith("unix://", StringComparison.Ordinal))
            return; // a TCP or SSH engine: let Testcontainers connect (it fails loudly if it cannot)
        var socket = string.IsNullOrEmpty(host) ? "/var/run/docker.sock" : host["unix://".Length..];
        if (!File.Exists(socket))
            Assert.Skip($"no Docker engine: {socket} does not exist (DOCKER_HOST unset or unix). These tests run real Kafka and Redis images and need one.");
        try
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            s.Connect(new UnixDomainSocketEndPoint(socket));
        }
        catch (SocketException e)
        {
            Assert.Skip($"no Docker engine: {socket} does not accept connections ({e.SocketErrorCode}). These tests need a running daemon.");
        }
    }

    private static IHost StartWorker(Dictionary<string, string?> overrides)
    {
        var host = WorkerHost.Build(overrides, logging => logging.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole());
        host.Start();
        Assert.True(host.Services.GetRequiredService<ScreeningService>().Ready.Wait(TimeSpan.FromSeconds(90)), "the worker did not become ready");
        return host;
    }

    private static async Task CreateTopics(string bootstrap)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
        await admin.CreateTopicsAsync(
            new[] { Topics.Uploads, Topics.Takedown, Topics.Review, Topics.Allow, Topics.Dlq }
                .Select(t => new TopicSpecification { Name = t, NumPartitions = t == Topics.Uploads ? UploadPartitions : 1, ReplicationFactor = 1 }));
    }

    private static void Produce(string bootstrap, IEnumerable<(string Key, byte[] Value)> uploads)
    {
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrap, EnableIdempotence = true, Acks = Acks.All }).Build();
        foreach (var (key, value) in uploads) producer.Produce(Topics.Uploads, new Message<string, byte[]> { Key = key, Value = value });
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
    }

    /// <summary>Decisions until <paramref name="count"/> arrived plus two seconds to catch duplicates; the deadline
    /// only bounds a hang.</summary>
    private static List<DecisionEvent> ReadDecisions(string bootstrap, int count)
    {
        using var consumer = new ConsumerBuilder<string?, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "reader-" + Guid.NewGuid().ToString("N"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();
        consumer.Subscribe([Topics.Takedown, Topics.Review, Topics.Allow, Topics.Dlq]);
        var decisions = new List<DecisionEvent>();
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        DateTime? settle = null;
        while (DateTime.UtcNow < (settle ?? deadline))
        {
            var record = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (record?.Message is null) continue;
            Assert.NotEqual(Topics.Dlq, record.Topic);
            decisions.Add(DecisionEvent.FromUtf8Json(record.Message.Value));
            if (decisions.Count >= count && settle is null) settle = DateTime.UtcNow + TimeSpan.FromSeconds(2);
        }
        return decisions;
    }
}
