using System.Text;
using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Embedded;
using Moderation.Streams.Media;

namespace Moderation.Streams.Cli.Tests;

/// <summary>Two `moderation worker` processes in one group, sharing one Redis: strikes and a campaign are counted
/// across both (uploads spread over every partition, so over both workers).</summary>
public sealed class UploaderSignalsProcessTests : IDisposable
{
    private const int Partitions = 4;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("uploader-signals-");

    public void Dispose() => _dir.Delete(true);

    [Fact]
    public async Task Strikes_and_a_campaign_are_counted_across_two_worker_processes()
    {
        using var broker = CliProcess.Start(["broker", "--partitions", Partitions.ToString()]);
        var bootstrap = (await broker.WaitForLineAsync(l => l.StartsWith("bootstrap="), ct: Ct))["bootstrap=".Length..];
        await using var redis = EmbeddedRedisServer.Start();
        var redisConfig = redis.Configuration + ",syncTimeout=15000,asyncTimeout=15000";

        var links = Path.Combine(_dir.FullName, "links.csv");
        File.WriteAllText(links, "domain,category,id\nbad.example,phishing,d-1\n");
        using (var import = CliProcess.Start(["bank", "import", "--kind", "domains", "--bank", "links", links, "--redis", redisConfig]))
            Assert.Equal(ExitCodes.Ok, await import.WaitForExitAsync(TimeSpan.FromSeconds(120), Ct));
        var policy = Path.Combine(_dir.FullName, "policy.json");
        File.WriteAllText(policy, """
            {"version":"uploaders-p1","takedown":{"porn":0.9},"review":{"porn":0.6},"text":{"phishing":"takedown"},
             "uploaders":{"strikes":{"window":"7d","review_at":4},"campaigns":{"window":"1h","distinct_uploaders":4,"action":"review"}}}
            """);
        var picture = Path.Combine(_dir.FullName, "meme.png");
        File.WriteAllBytes(picture, SampleImages.Png(7401, 200, 150));
        var url = new Uri(picture).AbsoluteUri;

        var workers = Enumerable.Range(0, 2).Select(i => CliProcess.Start(
            ["worker", "--kafka", bootstrap, "--redis", redisConfig, "--media-root", _dir.FullName, "--group", "uploaders", "--policy", policy],
            new Dictionary<string, string?>
            {
                ["Kafka__SessionTimeoutMs"] = "6000", ["Telemetry__Port"] = "0", ["Kafka__GroupInstanceId"] = $"uploaders-{i}",
            })).ToList();
        try
        {
            foreach (var worker in workers)
                await worker.WaitForLineAsync(l => l.Contains("Assigned"), TimeSpan.FromSeconds(120), Ct);

            using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrap, EnableIdempotence = true, Acks = Acks.All }).Build();
            using var reader = new ConsumerBuilder<string, byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "reader", EnableAutoCommit = false }).Build();
            reader.Assign(new[] { Topics.Takedown, Topics.Review, Topics.Allow, Topics.Dlq }
                .SelectMany(t => Enumerable.Range(0, Partitions).Select(p => new TopicPartitionOffset(t, p, Offset.Beginning))));
            var decided = new Dictionary<string, DecisionEvent>();

            // One upload at a time, to a chosen partition: each is counted before the next is screened.
            DecisionEvent Screen(int partition, string json)
            {
                var id = UploadEventParser.Parse(Encoding.UTF8.GetBytes(json)).ContentId;
                producer.Produce(new TopicPartition(Topics.Uploads, partition), new Message<string, byte[]> { Key = id, Value = Encoding.UTF8.GetBytes(json) });
                producer.Flush(TimeSpan.FromSeconds(30));
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
                while (!decided.ContainsKey(id))
                {
                    Assert.True(DateTime.UtcNow < deadline, $"no decision for {id}\n{string.Join("\n", workers.Select(w => w.Transcript()))}");
                    if (reader.Consume(TimeSpan.FromMilliseconds(200))?.Message is { } m && m.Key is not null && m.Value is not null)
                        decided[m.Key] = DecisionEvent.FromUtf8Json(m.Value);
                }
                return decided[id];
            }

            // u-bad's phishing posts land on every partition, so both workers take some of them down.
            for (int p = 0; p < Partitions; p++)
                Assert.Equal(Actions.Takedown, Screen(p, $$"""{"content_id":"phish-{{p}}","uploader_id":"u-bad","media_type":"text","text":"bad.example/{{p}}"}""").Action);
            var next = Screen(0, """{"content_id":"hello","uploader_id":"u-bad","media_type":"text","text":"nice photo!"}""");
            Assert.Equal(Actions.Review, next.Action);
            Assert.Equal(("strikes", 4), (Assert.Single(next.Reasons).Rule!, next.Reasons[0].Count!.Value));

            // The same picture from four uploaders, one per partition.
            for (int p = 0; p < Partitions; p++)
            {
                var meme = Screen(p, $$$"""{"content_id":"meme-{{{p}}}","uploader_id":"u-{{{p}}}","media_type":"image","media":{"url":"{{{url}}}"}}""");
                if (p < Partitions - 1) Assert.Equal(Actions.Allow, meme.Action);
                else
                {
                    Assert.Equal(Actions.Review, meme.Action);
                    Assert.Equal(4, Assert.Single(meme.Reasons, r => r.Source == "campaign").Uploaders);
                }
            }

            foreach (var worker in workers) worker.Terminate();
            foreach (var worker in workers) Assert.Equal(0, await worker.WaitForExitAsync(TimeSpan.FromSeconds(60), Ct));
        }
        finally
        {
            foreach (var worker in workers) worker.Dispose();
        }
        broker.Terminate();
        Assert.Equal(0, await broker.WaitForExitAsync(ct: Ct));
    }
}
