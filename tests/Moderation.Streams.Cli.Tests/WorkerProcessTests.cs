using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Embedded;
using Moderation.Streams.Media;

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
        // Inference:Device=auto (appsettings.json) on this CPU-only build: nothing about CUDA from start to stop.
        Assert.DoesNotContain(worker.StdoutLines.Concat(worker.StderrLines), l => l.Contains("CUDA", StringComparison.OrdinalIgnoreCase));
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

    [Fact]
    public async Task A_worker_told_to_auto_commit_through_free_form_kafka_properties_refuses_to_start_with_exit_code_2()
    {
        // Auto-commit would commit offsets of uploads not yet decided: a crash would then lose them.
        using var worker = CliProcess.Start(["worker", "--kafka", "127.0.0.1:1", "--telemetry-port", "-1"],
            new Dictionary<string, string?> { ["Kafka__Properties__enable.auto.commit"] = "true" });
        Assert.Equal(ExitCodes.Usage, await worker.WaitForExitAsync(TimeSpan.FromSeconds(60), Ct));
        Assert.Contains("Kafka:Properties:enable.auto.commit is refused: offsets are committed by the delivery mode", worker.Transcript());
        Assert.DoesNotContain(worker.StdoutLines.Concat(worker.StderrLines), l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_worker_whose_model_file_is_not_the_registered_one_refuses_to_start_with_exit_code_1()
    {
        // Another model that loads under the default's name: it would decide, recorded as nsfw-mobilenet-v2@1.
        var models = _media.CreateSubdirectory("models");
        File.Copy(Path.Combine(AppContext.BaseDirectory, "models", "nsfw-mobilenet-v2-mid.onnx"), Path.Combine(models.FullName, "nsfw-mobilenet-v2.onnx"));
        using var broker = CliProcess.Start(["broker"]);
        var bootstrap = (await broker.WaitForLineAsync(l => l.StartsWith("bootstrap="), ct: Ct))["bootstrap=".Length..];
        using var worker = CliProcess.Start(["worker", "--kafka", bootstrap, "--telemetry-port", "-1"],
            new Dictionary<string, string?> { ["Screening__ModelsDirectory"] = models.FullName });
        Assert.Equal(1, await worker.WaitForExitAsync(TimeSpan.FromSeconds(60), Ct));
        Assert.Contains("Start check: fail model: nsfw-mobilenet-v2@1: ", worker.Transcript());
        Assert.Contains("not the registry's bcd8116a3df2", worker.Transcript());
    }

    [Fact]
    public async Task A_worker_without_ffmpeg_says_so_with_the_fix_stays_not_ready_and_does_not_consume()
    {
        using var broker = CliProcess.Start(["broker"]);
        var bootstrap = (await broker.WaitForLineAsync(l => l.StartsWith("bootstrap="), ct: Ct))["bootstrap=".Length..];
        using var worker = CliProcess.Start(["worker", "--kafka", bootstrap, "--group", "no-ffmpeg", "--telemetry-port", "0"],
            new Dictionary<string, string?> { ["Media__Video__FfmpegPath"] = "/nonexistent/ffmpeg" });
        var telemetry = (await worker.WaitForLineAsync(l => l.StartsWith("telemetry="), TimeSpan.FromSeconds(60), Ct))["telemetry=".Length..].Split(' ')[0];

        var line = await worker.WaitForLineAsync(l => l.Contains("Start check: fail ffmpeg"), TimeSpan.FromSeconds(60), Ct);
        Assert.Contains("/nonexistent/ffmpeg is not an executable file (Media:Video:FfmpegPath); fix: install ffmpeg", line);
        await worker.WaitForLineAsync(l => l.Contains("Not ready, not consuming"), TimeSpan.FromSeconds(60), Ct);

        using var http = new HttpClient { BaseAddress = new Uri(telemetry) };
        using var ready = await http.GetAsync("/readyz", Ct);
        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        var health = System.Text.Json.JsonDocument.Parse(await ready.Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.False(health.GetProperty("ready").GetBoolean());
        Assert.StartsWith("fail ffmpeg: /nonexistent/ffmpeg", health.GetProperty("failed_checks")[0].GetString());
        Assert.Equal("not started: a start check failed", health.GetProperty("kafka").GetString());
        Assert.Equal(0, health.GetProperty("assigned_partitions").GetInt32());
        // Alive (no restart loop): readiness holds it out, the log and /readyz say what to fix.
        using var live = await http.GetAsync("/healthz", Ct);
        Assert.Equal(System.Net.HttpStatusCode.OK, live.StatusCode);
        Assert.DoesNotContain(worker.StdoutLines, l => l.Contains("Consuming uploads"));

        worker.Terminate();
        Assert.Equal(0, await worker.WaitForExitAsync(TimeSpan.FromSeconds(60), Ct));
    }
}
