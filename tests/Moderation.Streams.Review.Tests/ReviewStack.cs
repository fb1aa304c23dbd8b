using System.Net.Http.Headers;
using System.Text;
using Confluent.Kafka;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Embedded;
using Moderation.Streams.Review;

namespace Moderation.Streams.Review.Tests;

/// <summary>A real embedded broker and Garnet server, a users file, and review consoles on free ports.</summary>
public sealed class ReviewStack : IAsyncDisposable
{
    public const int Partitions = 2;
    public EmbeddedKafkaBroker Broker { get; } = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Partitions = Partitions });
    public EmbeddedRedisServer Redis { get; } = EmbeddedRedisServer.Start();
    public DirectoryInfo Dir { get; } = Directory.CreateTempSubdirectory("review-tests-");
    public string UsersFile => Path.Combine(Dir.FullName, "users.json");
    private readonly List<WebApplication> _apps = [];
    private readonly List<WebApplication> _abandoned = [];

    public ReviewStack()
    {
        // Fewer iterations than the default, only to keep the tests quick; the format and the check are the real ones.
        ReviewUsers.AddOrReplace(UsersFile, "alice", ReviewRoles.Reviewer, "alice-pw", iterations: PasswordHash.MinIterations);
        ReviewUsers.AddOrReplace(UsersFile, "bob", ReviewRoles.Reviewer, "bob-pw", iterations: PasswordHash.MinIterations);
        ReviewUsers.AddOrReplace(UsersFile, "root", ReviewRoles.Admin, "root-pw", iterations: PasswordHash.MinIterations);
    }

    public Dictionary<string, string?> Settings(Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Kafka:BootstrapServers"] = Broker.BootstrapServers,
            ["Redis:Configuration"] = Redis.Configuration,
            ["Review:Port"] = "0",
            ["Review:TelemetryPort"] = "0",
            ["Review:BindAddress"] = "127.0.0.1",
            ["Review:UsersFile"] = UsersFile,
            ["Media:Root"] = Dir.FullName,
        };
        foreach (var (k, v) in extra ?? []) settings[k] = v;
        return settings;
    }

    public async Task<Console> StartConsoleAsync(Dictionary<string, string?>? extra = null)
    {
        var app = ReviewHost.Build(Settings(extra), l => l.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole());
        await app.StartAsync();
        _apps.Add(app);
        var (console, telemetry) = ReviewHost.ListeningOn(app);
        return new Console(app, console, telemetry);
    }

    public sealed record Console(WebApplication App, Uri Address, Uri? Telemetry)
    {
        public HttpClient Client(string? user = null, string? password = null)
        {
            var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(60) };
            if (user is not null)
                client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
            return client;
        }

        public HttpClient Alice => Client("alice", "alice-pw");
        public HttpClient Bob => Client("bob", "bob-pw");
        public HttpClient Root => Client("root", "root-pw");
        public VerdictService Verdicts => App.Services.GetRequiredService<VerdictService>();
        public ReviewStore Store => App.Services.GetRequiredService<ReviewStore>();
    }

    /// <summary>A real worker whose policy sends every picture to review (and takes bank matches down); stopped with the stack.</summary>
    public IHost StartReviewingWorker()
    {
        var policy = Path.Combine(Dir.FullName, "policy.json");
        File.WriteAllText(policy, """
            {"version":"review-everything.1","takedown":{"porn":0.999},"review":{"drawing":0.01,"hentai":0.01,"neutral":0.01,"porn":0.01,"sexy":0.01},
             "unscreenable":"review","banks":{"*":"takedown"},"text":{"*":"review"}}
            """);
        var worker = Moderation.Streams.Worker.WorkerHost.Build(new Dictionary<string, string?>
        {
            ["Kafka:BootstrapServers"] = Broker.BootstrapServers,
            ["Kafka:GroupId"] = "workers-review-tests",
            ["Kafka:SessionTimeoutMs"] = "6000",
            ["Redis:Configuration"] = Redis.Configuration,
            ["Media:Root"] = Dir.FullName,
            ["Screening:PolicyFile"] = policy,
        }, l => l.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole());
        worker.Start();
        Assert.True(worker.Services.GetRequiredService<Moderation.Streams.Worker.ScreeningService>().Ready.Wait(TimeSpan.FromSeconds(90), TestContext.Current.CancellationToken),
            "the worker did not become ready");
        _workers.Add(worker);
        return worker;
    }

    private readonly List<IHost> _workers = [];

    /// <summary>Publishes an image upload (media by URL) to the uploads topic.</summary>
    public void Upload(string contentId, string url, string? caption = null)
    {
        using var producer = Producer();
        producer.ProduceAsync(Topics.Uploads, new Message<byte[]?, byte[]>
        {
            Key = Encoding.UTF8.GetBytes(contentId),
            Value = UploadEventParser.Serialize(new UploadEvent
            {
                ContentId = contentId, UploaderId = "u-" + contentId.Length, MediaType = MediaTypes.Image, Media = new MediaRef { Url = url }, Caption = caption,
            }),
        }, TestContext.Current.CancellationToken).GetAwaiter().GetResult();
    }

    public string WriteMedia(string name, byte[] bytes)
    {
        var path = Path.Combine(Dir.FullName, name);
        File.WriteAllBytes(path, bytes);
        return new Uri(path).AbsoluteUri;
    }

    /// <summary>Publishes an upload and the review decision a worker would have made for it; returns the decision.</summary>
    public DecisionEvent QueueForReview(string contentId, string? url = null, string? text = null, string? caption = null, string? uploader = null,
        IReadOnlyList<DecisionReason>? reasons = null, PdqInfo? pdq = null, DateTimeOffset? decidedAt = null)
    {
        using var producer = Producer();
        var upload = new UploadEvent
        {
            ContentId = contentId, UploaderId = uploader, MediaType = text is null ? MediaTypes.Image : MediaTypes.Text,
            Media = url is null ? null : new MediaRef { Url = url }, Text = text, Caption = caption,
        };
        var delivered = producer.ProduceAsync(Topics.Uploads, new Message<byte[]?, byte[]> { Key = Encoding.UTF8.GetBytes(contentId), Value = UploadEventParser.Serialize(upload) }).GetAwaiter().GetResult();
        var decision = new DecisionEvent
        {
            ContentId = contentId, Action = Actions.Review,
            Reasons = reasons ?? [new DecisionReason { Source = "model", Model = "nsfw-mobilenet-v2", Label = "porn", Score = 0.7f, Threshold = 0.6f }],
            Scores = new Dictionary<string, float> { ["drawing"] = 0.05f, ["hentai"] = 0.05f, ["neutral"] = 0.1f, ["porn"] = 0.7f, ["sexy"] = 0.1f },
            Pdq = pdq, PolicyVersion = "test-policy.1", ModelVersion = "nsfw-mobilenet-v2@1",
            DecidedAt = decidedAt ?? DateTimeOffset.UtcNow, Source = new SourceInfo(delivered.Topic, delivered.Partition.Value, delivered.Offset.Value),
        };
        Publish(Topics.Review, contentId, decision.ToUtf8Json());
        return decision;
    }

    public void Publish(string topic, string key, byte[] value)
    {
        using var producer = Producer();
        producer.ProduceAsync(topic, new Message<byte[]?, byte[]> { Key = Encoding.UTF8.GetBytes(key), Value = value }).GetAwaiter().GetResult();
    }

    private IProducer<byte[]?, byte[]> Producer() =>
        new ProducerBuilder<byte[]?, byte[]>(new ProducerConfig { BootstrapServers = Broker.BootstrapServers, Acks = Acks.All }).Build();

    /// <summary>Waits until <paramref name="count"/> items are queued (the deadline only bounds a hang).</summary>
    public static async Task WaitQueuedAsync(ReviewStore store, long count)
    {
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while ((await store.DepthAsync()).Depth < count)
        {
            Assert.True(DateTime.UtcNow < end, $"the queue did not reach {count} items");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }

    public sealed record Record(string Topic, byte[] Value, Headers Headers)
    {
        public string Text => Encoding.UTF8.GetString(Value);
        public string? VerdictId => Headers.TryGetLastBytes(VerdictPublisher.VerdictIdHeader, out var v) ? Encoding.ASCII.GetString(v) : null;
    }

    /// <summary>Every record now on <paramref name="topic"/>.</summary>
    public List<Record> ReadAll(string topic)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]>(new ConsumerConfig
        {
            BootstrapServers = Broker.BootstrapServers, GroupId = "reader-" + Guid.NewGuid().ToString("N"), EnableAutoCommit = false, EnablePartitionEof = true,
        }).Build();
        var open = new HashSet<int>();
        var assign = new List<TopicPartitionOffset>();
        for (int p = 0; p < Partitions; p++)
        {
            var w = consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10));
            if (w.High.Value > w.Low.Value)
            {
                open.Add(p);
                assign.Add(new TopicPartitionOffset(topic, p, Offset.Beginning));
            }
        }
        var records = new List<Record>();
        if (assign.Count == 0) return records;
        consumer.Assign(assign);
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (open.Count > 0 && DateTime.UtcNow < end)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r is null) continue;
            if (r.IsPartitionEOF)
            {
                open.Remove(r.Partition.Value);
                continue;
            }
            records.Add(new Record(r.Topic, r.Message.Value, r.Message.Headers));
        }
        return records;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var worker in _workers)
        {
            await worker.StopAsync(CancellationToken.None);
            worker.Dispose();
        }
        foreach (var app in _apps.Concat(_abandoned))
        {
            try
            {
                await app.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
            }
            await app.DisposeAsync();
        }
        Broker.Dispose();
        await Redis.DisposeAsync();
        try
        {
            Dir.Delete(recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Stops nothing cleanly: the console is abandoned as a killed process would be (its locks and pending verdicts stay).</summary>
    public void Abandon(Console console)
    {
        _apps.Remove(console.App);
        _abandoned.Add(console.App);
    }
}
