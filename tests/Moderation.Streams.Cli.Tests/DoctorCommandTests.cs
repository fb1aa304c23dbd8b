using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Moderation.Streams.Redis.Tests.Servers;

namespace Moderation.Streams.Cli.Tests;

/// <summary>A broker process (the contract topics) and a real redis-server, shared by the doctor tests.</summary>
public sealed class DoctorStack : IAsyncLifetime
{
    private CliProcess? _broker;

    public string Bootstrap { get; private set; } = "";

    public RedisServerProcess Redis { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        _broker = CliProcess.Start(["broker", "--partitions", "2"]);
        Bootstrap = (await _broker.WaitForLineAsync(l => l.StartsWith("bootstrap=", StringComparison.Ordinal)))["bootstrap=".Length..];
        Redis = await RedisServerProcess.StartAsync(CancellationToken.None);
    }

    public async ValueTask DisposeAsync()
    {
        _broker?.Dispose();
        if (Redis is not null) await Redis.DisposeAsync();
    }
}

/// <summary>`moderation doctor` as users run it: one `ok|warn|fail NAME: DETAIL[; fix: …]` line per check, exit 1 when
/// a required one fails.</summary>
public sealed partial class DoctorCommandTests(DoctorStack stack) : IClassFixture<DoctorStack>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [GeneratedRegex(@"^(?<status>ok|warn|fail) {1,3}(?<name>[^:]+): (?<detail>.+)$")]
    private static partial Regex CheckLine();

    private static readonly string[] AllChecks =
        ["ffmpeg", "ffprobe", "video-codecs", "model", "onnxruntime", "sentence-model", "kafka", "topic uploads", "topic moderation.decisions.takedown",
         "topic moderation.decisions.review", "topic moderation.decisions.allow", "topic moderation.dlq", "redis", "bank-snapshots"];

    private async Task<(int Exit, Dictionary<string, (string Status, string Line)> Checks, CliProcess Cli)> DoctorAsync(
        IReadOnlyDictionary<string, string?>? environment = null, params string[] args)
    {
        var cli = await CliProcess.RunAsync(["doctor", .. args], environment, ct: Ct);
        var checks = new Dictionary<string, (string, string)>();
        foreach (var line in cli.StdoutLines.Where(l => l.Length > 0))
        {
            var m = CheckLine().Match(line);
            Assert.True(m.Success, $"not a check line: {line}\n{cli.Transcript()}");
            checks.Add(m.Groups["name"].Value, (m.Groups["status"].Value, line));
        }
        return (await cli.WaitForExitAsync(ct: Ct), checks, cli);
    }

    private string[] Connected => ["--kafka", stack.Bootstrap, "--redis", stack.Redis.Configuration];

    [Fact]
    public async Task With_ffmpeg_the_model_the_broker_and_redis_every_required_check_passes_and_the_exit_code_is_0()
    {
        var (exit, checks, cli) = await DoctorAsync(null, Connected);

        Assert.True(exit == 0, cli.Transcript());
        Assert.Equal(AllChecks.Order(), checks.Keys.Order());
        Assert.DoesNotContain(checks.Values, c => c.Status == "fail");
        Assert.Matches(@"^ok   ffmpeg: /\S+/ffmpeg \(ffmpeg version ", checks["ffmpeg"].Line);
        Assert.Contains("h264, hevc, vp8, vp9, av1", checks["video-codecs"].Line);
        Assert.Contains("nsfw-mobilenet-v2@1", checks["model"].Line);
        Assert.Contains("sha256", checks["model"].Line);
        // The CPU-only build: auto means the CPU, as built; no warning about CUDA.
        Assert.Equal("ok", checks["onnxruntime"].Status);
        Assert.Contains("CPU (a CPU-only ONNX Runtime build; Inference:Device=auto)", checks["onnxruntime"].Line);
        Assert.Matches(@"^ok   topic uploads: 2 partition", checks["topic uploads"].Line);
        Assert.StartsWith("ok   redis: PONG", checks["redis"].Line);
        Assert.Equal("ok   bank-snapshots: no hash bank of 100,000 entries or more", checks["bank-snapshots"].Line);
        Assert.Matches(@"^ok   sentence-model: all-MiniLM-L6-v2\+int8 \(/\S+/models/all-MiniLM-L6-v2\.int8\.onnx\)$", checks["sentence-model"].Line);
    }

    [Fact]
    public async Task A_big_hash_bank_without_a_snapshot_is_a_warning_with_the_command_that_writes_one()
    {
        string prefix = $"doc-{Guid.NewGuid():N}:";
        await using (var connection = await Moderation.Streams.Redis.RedisConnector.ConnectAsync(stack.Redis.Configuration))
        {
            var store = new Moderation.Streams.Redis.Banks.RedisBankStore(connection, prefix);
            var random = new Random(3);
            await store.ImportAsync("big", [.. Enumerable.Range(0, 20).Select(i => new Moderation.Streams.Hashing.Banks.BankEntry(
                "big", $"e{i}", Moderation.Streams.Hashing.PdqHash.FromBytes([.. Enumerable.Range(0, 32).Select(_ => (byte)random.Next(256))]), 90, null, null, DateTimeOffset.UnixEpoch))]);
            var environment = new Dictionary<string, string?> { ["Banks__KeyPrefix"] = prefix, ["Banks__SnapshotMinEntries"] = "10" };

            var (exit, checks, cli) = await DoctorAsync(environment, Connected);
            Assert.True(exit == 0, cli.Transcript()); // a warning, not a failure
            Assert.Equal("warn bank-snapshots: no snapshot for big (20 entries): a worker starting cold scans them (~3-4 µs an entry); " +
                         "fix: moderation bank snapshot --bank big (a worker also writes one after scanning such a bank)", checks["bank-snapshots"].Line);

            await store.WriteSnapshotAsync("big", ct: Ct);
            (_, checks, cli) = await DoctorAsync(environment, Connected);
            Assert.Equal("ok   bank-snapshots: every hash bank of 10 entries or more has a snapshot (1)", checks["bank-snapshots"].Line);
            cli.Dispose();
        }
    }

    [Fact]
    public async Task Ffmpeg_path_pointing_at_a_missing_file_fails_naming_ffmpeg_the_setting_and_the_fix()
    {
        var (exit, checks, cli) = await DoctorAsync(new Dictionary<string, string?> { ["Media__Video__FfmpegPath"] = "/nonexistent/ffmpeg" }, Connected);

        Assert.True(exit == 1, cli.Transcript());
        var line = checks["ffmpeg"].Line;
        Assert.StartsWith("fail ffmpeg: /nonexistent/ffmpeg is not an executable file (Media:Video:FfmpegPath); fix: install ffmpeg", line);
        Assert.Equal("ok", checks["ffprobe"].Status);
        Assert.Equal("fail", checks["video-codecs"].Status);
        Assert.Equal(["ffmpeg", "video-codecs"], checks.Where(c => c.Value.Status == "fail").Select(c => c.Key).Order());
        Assert.Contains("required check(s) failed: ffmpeg, video-codecs", string.Join('\n', cli.StderrLines));
    }

    [Fact]
    public async Task Without_ffmpeg_on_path_ffmpeg_and_ffprobe_fail_and_with_video_off_they_are_not_needed()
    {
        var empty = Directory.CreateTempSubdirectory("doctor-path-");
        try
        {
            var (exit, checks, cli) = await DoctorAsync(new Dictionary<string, string?> { ["PATH"] = empty.FullName }, Connected);
            Assert.True(exit == 1, cli.Transcript());
            Assert.StartsWith($"fail ffmpeg: ffmpeg not found on PATH ({empty.FullName}) (Media:Video:FfmpegPath); fix: install ffmpeg", checks["ffmpeg"].Line);
            Assert.StartsWith("fail ffprobe: ffprobe not found on PATH", checks["ffprobe"].Line);

            (exit, checks, cli) = await DoctorAsync(
                new Dictionary<string, string?> { ["PATH"] = empty.FullName, ["Media__Video__Enabled"] = "false" }, Connected);
            Assert.True(exit == 0, cli.Transcript());
            Assert.StartsWith("ok   ffmpeg: not needed (Media:Video:Enabled=false", checks["ffmpeg"].Line);
        }
        finally
        {
            empty.Delete(true);
        }
    }

    [Fact]
    public async Task A_codec_ffmpeg_cannot_decode_fails_naming_it()
    {
        var (exit, checks, cli) = await DoctorAsync(
            new Dictionary<string, string?> { ["Media__Video__VideoCodecs__0"] = "h264", ["Media__Video__VideoCodecs__1"] = "no-such-codec" }, Connected);

        Assert.True(exit == 1, cli.Transcript());
        Assert.StartsWith("fail video-codecs: ffmpeg has no decoder for no-such-codec (Media:Video:VideoCodecs); fix: ", checks["video-codecs"].Line);
    }

    [Fact]
    public async Task A_missing_model_file_fails_and_a_missing_uploads_topic_and_an_unreachable_redis_fail()
    {
        var models = Directory.CreateTempSubdirectory("doctor-models-");
        try
        {
            var (exit, checks, cli) = await DoctorAsync(new Dictionary<string, string?> { ["Screening__ModelsDirectory"] = models.FullName },
                ["--kafka", stack.Bootstrap, "--redis", $"127.0.0.1:{ClosedPort()}", "--timeout", "1"]);
            Assert.True(exit == 1, cli.Transcript());
            Assert.StartsWith($"fail model: nsfw-mobilenet-v2@1: {Path.Combine(models.FullName, "nsfw-mobilenet-v2.onnx")} not found; fix: ", checks["model"].Line);
            Assert.StartsWith("fail redis: no PONG", checks["redis"].Line);

            // A file that is not the registered model is refused by its checksum.
            File.WriteAllBytes(Path.Combine(models.FullName, "nsfw-mobilenet-v2.onnx"), [1, 2, 3]);
            (exit, checks, cli) = await DoctorAsync(new Dictionary<string, string?>
            {
                ["Screening__ModelsDirectory"] = models.FullName, ["Kafka__UploadsTopic"] = "no-such-topic",
            }, Connected);
            Assert.True(exit == 1, cli.Transcript());
            Assert.Contains("has sha256 039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81, not the registry's", checks["model"].Line);
            Assert.StartsWith("fail topic no-such-topic: missing (Kafka:UploadsTopic)", checks["topic no-such-topic"].Line);
        }
        finally
        {
            models.Delete(true);
        }
    }

    [Fact]
    public async Task An_unreachable_kafka_fails_and_a_bad_timeout_is_a_usage_error()
    {
        var (exit, checks, cli) = await DoctorAsync(null, "--kafka", $"127.0.0.1:{ClosedPort()}", "--timeout", "1");
        Assert.True(exit == 1, cli.Transcript());
        Assert.StartsWith($"fail kafka: cannot reach 127.0.0.1:", checks["kafka"].Line);
        Assert.Contains("fix: check Kafka:BootstrapServers (--kafka)", checks["kafka"].Line);

        using var usage = await CliProcess.RunAsync(["doctor", "--timeout", "0"], ct: Ct);
        Assert.Equal(2, await usage.WaitForExitAsync(ct: Ct));
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
