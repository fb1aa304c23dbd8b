using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media;
using Moderation.Streams.Redis;

namespace Moderation.Streams.Cli.Tests;

/// <summary>The service as users run it: a `moderation broker` process, a `moderation worker` process,
/// uploads from another Kafka client, decisions read back by kcat.</summary>
public sealed class WorkerProcessTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _media = Directory.CreateTempSubdirectory("worker-process-");

    public void Dispose() => _media.Delete(true);

    [Fact]
    public async Task A_thousand_uploads_get_a_thousand_outcomes_and_a_broken_one_lands_in_the_dlq()
    {
        using var broker = CliProcess.Start(["broker", "--partitions", "4"]);
        var bootstrap = (await broker.WaitForLineAsync(l => l.StartsWith("bootstrap="), ct: Ct))["bootstrap=".Length..];
        await using var redis = EmbeddedRedisServer.Start();

        const int distinct = 60, total = 1000, brokenAt = 500;
        var urls = Enumerable.Range(0, distinct).Select(i =>
        {
            var path = Path.Combine(_media.FullName, $"img-{i}.png");
            File.WriteAllBytes(path, SampleImages.Png(i, 160, 120));
            return new Uri(path).AbsoluteUri;
        }).ToList();

        using var worker = CliProcess.Start(["worker", "--kafka", bootstrap, "--redis", redis.Configuration, "--media-root", _media.FullName, "--group", "process-test"],
            new Dictionary<string, string?> { ["Kafka__SessionTimeoutMs"] = "6000", ["Telemetry__Port"] = "0" });
        await worker.WaitForLineAsync(l => l.Contains("Consuming uploads"), TimeSpan.FromSeconds(120), Ct);

        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrap, EnableIdempotence = true, Acks = Acks.All }).Build())
        {
            for (int i = 0; i < total; i++)
            {
                var id = $"c-{i:D4}";
                var value = i == brokenAt
                    ? "{\"content_id\":\"c-0500\",\"media_type\":\"image\",\"media\":{\"url\":"u8.ToArray()
                    : UploadEventParser.Serialize(new UploadEvent { ContentId = id, MediaType = "image", Media = new MediaRef { Url = urls[i % distinct] } });
                producer.Produce(Topics.Uploads, new Message<string, byte[]> { Key = id, Value = value });
            }
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        // kcat, an independent client, reads every outcome topic until all have arrived (bounded by a deadline).
        var topics = new[] { Topics.Takedown, Topics.Review, Topics.Allow, Topics.Dlq };
        var lines = new List<(string Topic, string Key)>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(240);
        while (true)
        {
            lines.Clear();
            foreach (var topic in topics)
            {
                var read = await Kcat.RunAsync(["-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k\n"], Ct);
                Assert.True(read.ExitCode == 0, read.ToString());
                lines.AddRange(read.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(k => (topic, k)));
            }
            if (lines.Count >= total || DateTime.UtcNow > deadline) break;
            Assert.False(worker.HasExited, worker.Transcript());
            await Task.Delay(500, Ct);
        }

        Assert.True(lines.Count == total, $"{lines.Count} outcomes for {total} uploads\n{worker.Transcript()}");
        Assert.Equal(Enumerable.Range(0, total).Select(i => $"c-{i:D4}"), lines.Select(l => l.Key).Order());
        Assert.Equal((Topics.Dlq, "c-0500"), Assert.Single(lines, l => l.Topic == Topics.Dlq));

        worker.Terminate();
        Assert.Equal(0, await worker.WaitForExitAsync(TimeSpan.FromSeconds(60), Ct));
        broker.Terminate();
        Assert.Equal(0, await broker.WaitForExitAsync(ct: Ct));
    }

    [Fact]
    public async Task A_worker_with_an_unknown_model_refuses_to_start_with_exit_code_2_like_classify_in_one_line()
    {
        using var broker = CliProcess.Start(["broker"]);
        var bootstrap = (await broker.WaitForLineAsync(l => l.StartsWith("bootstrap="), ct: Ct))["bootstrap=".Length..];
        using var worker = CliProcess.Start(["worker", "--kafka", bootstrap, "--model", "no-such-model", "--telemetry-port", "-1"]);
        // Bad usage, as 'classify --model no-such-model' says (it exited 1 before, with a stack trace).
        Assert.Equal(ExitCodes.Usage, await worker.WaitForExitAsync(TimeSpan.FromSeconds(60), Ct));
        var why = Assert.Single(worker.StdoutLines.Concat(worker.StderrLines), l => l.Contains("no-such-model", StringComparison.Ordinal));
        Assert.EndsWith("Screening stopped: unknown model 'no-such-model'; known models: nsfw-mobilenet-v2, nsfw-mobilenet-v2-mid, nsfw-inception-v3", why);
        Assert.DoesNotContain(worker.StdoutLines.Concat(worker.StderrLines), l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal) || l.Contains("(Parameter '", StringComparison.Ordinal));
    }
}
