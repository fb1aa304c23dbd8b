using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Moderation.Streams.Media;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace Moderation.Streams.Worker.Tests;

public class TelemetryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_running_worker_serves_prometheus_metrics_liveness_and_readiness()
    {
        await using var stack = new EmbeddedStack();
        var url = stack.WriteImage("a.png", SampleImages.Png(3));
        using var host = stack.StartWorker();
        stack.Produce([("a", EmbeddedStack.Upload("a", url)), ("bad", "{"u8.ToArray())]);
        Assert.Equal(2, stack.ReadOutcomes(2, settle: TimeSpan.Zero).Count);
        stack.Produce([("b", EmbeddedStack.Upload("b", url))]); // the same picture: a cache hit
        Assert.Equal(3, stack.ReadOutcomes(3).Count);

        var endpoint = WorkerTelemetry.ListeningOn(host) ?? throw new InvalidOperationException("no telemetry endpoint");
        using var http = new HttpClient { BaseAddress = endpoint };
        var live = await http.GetAsync("/healthz", Ct);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);

        var ready = await http.GetAsync("/readyz", Ct);
        var health = JsonDocument.Parse(await ready.Content.ReadAsStringAsync(Ct)).RootElement;
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.True(health.GetProperty("ready").GetBoolean());
        Assert.Equal("nsfw-mobilenet-v2@1", health.GetProperty("model").GetString());
        Assert.Equal("cpu", health.GetProperty("device").GetString());
        Assert.Equal("connected", health.GetProperty("redis").GetString());
        Assert.Equal("reachable", health.GetProperty("kafka").GetString());

        // Metrics are collected at scrape time; the lag gauge is refreshed each second by the poll loop.
        string metrics = "";
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && !metrics.Contains("messaging_kafka_consumer_lag"))
        {
            metrics = await http.GetStringAsync("/metrics", Ct);
            if (!metrics.Contains("messaging_kafka_consumer_lag")) await Task.Delay(200, Ct);
        }
        Assert.Contains("messaging_client_consumed_messages_total{", metrics);
        Assert.Contains("messaging_process_duration_seconds_bucket{", metrics);
        Assert.Contains("messaging_kafka_consumer_lag{", metrics);
        Assert.Contains("moderation_uploads_inflight", metrics);
        Assert.Contains("moderation_partitions_paused", metrics);
        Assert.Matches("moderation_decisions_total\\{[^}]*action=\"allow\"", metrics);
        Assert.Matches("moderation_dlq_total\\{[^}]*code=\"invalid-event\"", metrics);
        Assert.Contains("moderation_decision_duration_seconds_bucket", metrics);
        Assert.Contains("moderation_inference_duration_seconds_bucket{", metrics);
        Assert.Contains("moderation_inference_queue_wait_seconds_bucket", metrics);
        Assert.DoesNotContain("_milliseconds", metrics); // durations are in seconds

        // Every worker metric the Grafana dashboard and the alert rules query is really exported. The review console's
        // moderation_review_* names are its own (checked against its /metrics in Deploy.Tests, ReviewMetricNamesTests).
        var deploy = Path.Combine(RepoRoot(), "deploy");
        var queries = File.ReadAllText(Path.Combine(deploy, "grafana", "dashboards", "moderation-streams.json"))
            + File.ReadAllText(Path.Combine(deploy, "prometheus", "alerts.yml"));
        var referenced = System.Text.RegularExpressions.Regex.Matches(queries, @"\b(?:messaging|moderation)_[a-z_]+\b")
            .Select(m => m.Value).Where(n => !n.StartsWith("moderation_streams") && !n.StartsWith("moderation_review_") && !LabelNames.Contains(n)).ToHashSet();
        Assert.NotEmpty(referenced);
        var exported = metrics.Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(l => l.Split('{', ' ')[0]).ToHashSet();
        // A counter of rare events is exported from its first event on: its name is checked against the instrument's.
        foreach (var rare in RareEvents) exported.Add(rare);
        Assert.All(referenced, name => Assert.Contains(name, exported));
    }

    private static readonly string[] RareEvents =
    [
        WorkerTelemetry.BankQuarantinedCounter.Replace('.', '_') + "_total",
        // A snapshot read or written (banks of 100,000 entries or more only).
        Moderation.Streams.Redis.RedisTelemetry.BankSnapshotsCounter.Replace('.', '_') + "_total",
        // Counted only when a build that carries CUDA cannot use it (never on this CPU-only build).
        Moderation.Streams.Inference.InferenceTelemetry.DeviceFallbacksCounter.Replace('.', '_') + "_total",
    ];

    private static readonly HashSet<string> LabelNames =
        ["messaging_destination_name", "messaging_destination_partition_id", "messaging_consumer_group_name", "messaging_system"];

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Moderation.Streams.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }

    [Fact]
    public async Task A_worker_without_redis_is_ready_and_says_it_runs_degraded()
    {
        await using var stack = new EmbeddedStack();
        using var host = stack.StartWorker(new() { ["Redis:Configuration"] = "127.0.0.1:1,connectTimeout=200" });
        using var http = new HttpClient { BaseAddress = WorkerTelemetry.ListeningOn(host) };
        var health = JsonDocument.Parse(await http.GetStringAsync("/readyz", Ct)).RootElement;
        Assert.True(health.GetProperty("ready").GetBoolean());
        Assert.StartsWith("unreachable: degraded", health.GetProperty("redis").GetString());
    }

    [Fact]
    public async Task Each_upload_is_one_consumer_span_that_continues_the_producer_trace_and_names_its_outcome()
    {
        var spans = new List<Activity>();
        using var tracing = Sdk.CreateTracerProviderBuilder().AddModerationTelemetry().AddInMemoryExporter(spans).Build();
        await using var stack = new EmbeddedStack();
        var url = stack.WriteImage("a.png", SampleImages.Png(4));
        using var host = stack.StartWorker();
        // Its own trace id: other test classes send the W3C example id, and their spans reach this exporter too.
        string traceId = ActivityTraceId.CreateRandom().ToHexString();
        stack.Produce([("a", EmbeddedStack.Upload("a", url))], new Headers { { "traceparent", Encoding.ASCII.GetBytes($"00-{traceId}-00f067aa0ba902b7-01") } });
        var decision = Assert.Single(stack.ReadOutcomes(1));
        tracing.ForceFlush();

        // The exporter sees every span of the process: other tests' uploads run beside this one, so this trace's alone.
        var process = Assert.Single(spans, s => s.OperationName == "process uploads" && s.TraceId.ToHexString() == traceId);
        Assert.Equal("a", process.GetTagItem("moderation.content_id"));
        Assert.Equal(ActivityKind.Consumer, process.Kind);
        Assert.Equal(traceId, process.TraceId.ToHexString());
        Assert.Equal("00f067aa0ba902b7", process.ParentSpanId.ToHexString());
        Assert.Equal("kafka", process.GetTagItem("messaging.system"));
        Assert.Equal("uploads", process.GetTagItem("messaging.destination.name"));
        Assert.Equal(stack.GroupId, process.GetTagItem("messaging.consumer.group.name"));
        Assert.NotNull(process.GetTagItem("messaging.kafka.offset"));
        Assert.NotNull(process.GetTagItem("messaging.destination.partition.id"));
        Assert.Equal("allow", process.GetTagItem("moderation.action"));
        Assert.Equal("nsfw-mobilenet-v2@1", process.GetTagItem("moderation.model_version"));
        // Every stage is a child span of the upload's span; the batch span links to the inference stage.
        var children = spans.Where(s => s.ParentSpanId == process.SpanId).Select(s => s.OperationName).ToList();
        Assert.Subset(children.ToHashSet(), new HashSet<string> { "fetch", "decode", "hash", "cache lookup", "inference", "policy", "publish", "bank lookup" });
        var decode = Assert.Single(spans, s => s.OperationName == "decode" && s.ParentSpanId == process.SpanId);
        Assert.Equal(1, decode.GetTagItem("moderation.decode.scale")); // a small PNG: decoded in full
        var inference = Assert.Single(spans, s => s.OperationName == "inference" && s.ParentSpanId == process.SpanId);
        var batch = Assert.Single(spans, s => s.OperationName == "inference batch" && s.Links.Any(l => l.Context.SpanId == inference.SpanId));
        Assert.Equal("cpu", batch.GetTagItem("moderation.device"));
        Assert.True((int)batch.GetTagItem("moderation.batch.size")! >= 1);
        // The decision carries this span onward.
        Assert.Equal($"00-{traceId}-{process.SpanId.ToHexString()}-01", decision.Header("traceparent"));
    }
}
