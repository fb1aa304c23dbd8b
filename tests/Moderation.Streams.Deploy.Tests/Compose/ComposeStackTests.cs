using System.Text.Json;
using System.Text.RegularExpressions;
using Moderation.Streams.Contracts;
using Moderation.Streams.Deploy.Tests.Helm;
using Moderation.Streams.Kafka.Replay;

namespace Moderation.Streams.Deploy.Tests.Compose;

/// <summary>
/// deploy/compose.yaml checked offline for what `docker compose config` and a first `up` would trip on: every
/// service the issue asks for, images pinned, dependencies that exist with valid conditions, mounted files
/// present, the worker hardened, and Prometheus, the collector and Grafana wired to each other.
/// </summary>
public sealed class ComposeStackTests
{
    private static IDictionary<string, object?> Services() =>
        (IDictionary<string, object?>)((IDictionary<string, object?>)YamlValues.Load(File.ReadAllText(Path.Combine(RepoPaths.Deploy, "compose.yaml")), resolveMerges: true)!)["services"]!;

    private static IDictionary<string, object?> Service(string name) => (IDictionary<string, object?>)Services()[name]!;

    [Fact]
    public void The_stack_has_kafka_in_kraft_mode_redis_two_workers_a_producer_a_collector_prometheus_grafana_and_a_trace_ui()
    {
        var services = Services();
        foreach (var name in new[] { "kafka", "kafka-init", "redis", "worker", "producer", "otel-collector", "prometheus", "grafana", "jaeger", "kafka-exporter" })
            Assert.True(services.ContainsKey(name), $"no service {name}");
        var kafka = (IDictionary<string, object?>)Service("kafka")["environment"]!;
        Assert.Equal("broker,controller", kafka["KAFKA_PROCESS_ROLES"]);
        Assert.False(kafka.ContainsKey("KAFKA_ZOOKEEPER_CONNECT"));
        Assert.Equal(2L, ((IDictionary<string, object?>)Service("worker")["deploy"]!)["replicas"]);
        Assert.Equal("no", Service("producer")["restart"]);
        Assert.Equal("produce", ((IList<object?>)Service("producer")["command"]!)[0]);
    }

    [Fact]
    public void Every_image_is_pinned_and_every_dependency_names_a_service_with_a_valid_condition()
    {
        var services = Services();
        foreach (var (name, body) in services)
        {
            var service = (IDictionary<string, object?>)body!;
            Assert.Matches(@":[^:]*\d+\.\d+\.\d+", (string)service["image"]!);
            var dependsOn = service.Get("depends_on");
            var names = dependsOn switch
            {
                IList<object?> list => list.Cast<string>().ToList(),
                IDictionary<string, object?> map => map.Keys.ToList(),
                null => [],
                _ => throw new InvalidDataException($"{name}: depends_on"),
            };
            Assert.All(names, d => Assert.True(services.ContainsKey(d), $"{name} depends on unknown {d}"));
            if (dependsOn is not IDictionary<string, object?> conditions) continue;
            foreach (var (dep, condition) in conditions)
            {
                var value = (string)((IDictionary<string, object?>)condition!)["condition"]!;
                Assert.Contains(value, new[] { "service_started", "service_healthy", "service_completed_successfully" });
                if (value == "service_healthy") Assert.True(((IDictionary<string, object?>)services[dep]!).ContainsKey("healthcheck"), $"{dep} has no healthcheck");
            }
        }
    }

    [Fact]
    public void Workers_run_hardened_from_the_cpu_dockerfile_against_the_stacks_kafka_redis_and_collector()
    {
        foreach (var name in new[] { "worker", "producer" })
        {
            var service = Service(name);
            Assert.Equal(true, service["read_only"]);
            Assert.Equal("10001:10001", service["user"]);
            Assert.Equal(["ALL"], ((IList<object?>)service["cap_drop"]!).Cast<string>());
            Assert.Equal("deploy/docker/Dockerfile", ((IDictionary<string, object?>)service["build"]!)["dockerfile"]);
        }
        var env = (IDictionary<string, object?>)Service("worker")["environment"]!;
        Assert.Equal("kafka:9092", env["Kafka__BootstrapServers"]);
        Assert.Equal("redis:6379", env["Redis__Configuration"]);
        Assert.Equal("/media", env["Media__Root"]);
        Assert.StartsWith("http://otel-collector:", (string)env["OTEL_EXPORTER_OTLP_ENDPOINT"]!);
        Assert.Contains("./samples:/media:ro", ((IList<object?>)Service("producer")["volumes"]!).Cast<string>());
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(RepoPaths.Deploy, "samples"), "*.png"));
    }

    [Fact]
    public void Every_file_a_service_mounts_exists()
    {
        foreach (var (name, body) in Services())
            foreach (var volume in (((IDictionary<string, object?>)body!).Get("volumes") as IList<object?> ?? []).Cast<string>())
            {
                var source = volume.Split(':')[0];
                if (!source.StartsWith('.')) continue;
                var path = Path.GetFullPath(Path.Combine(RepoPaths.Deploy, source));
                Assert.True(File.Exists(path) || Directory.Exists(path), $"{name} mounts {source}, which does not exist");
            }
        var build = (IDictionary<string, object?>)Service("worker")["build"]!;
        Assert.True(File.Exists(Path.Combine(RepoPaths.Deploy, (string)build["context"]!, (string)build["dockerfile"]!)));
    }

    [Fact]
    public void Prometheus_scrapes_the_workers_metrics_port_and_grafana_provisions_a_dashboard_on_its_datasource()
    {
        var prometheus = (IDictionary<string, object?>)YamlValues.Load(File.ReadAllText(Path.Combine(RepoPaths.Deploy, "prometheus", "prometheus.yml")))!;
        var jobs = ((IList<object?>)prometheus["scrape_configs"]!).Cast<IDictionary<string, object?>>().ToDictionary(j => (string)j["job_name"]!);
        var workers = jobs["moderation-workers"];
        Assert.Equal("/metrics", workers["metrics_path"]);
        var sd = (IDictionary<string, object?>)Assert.Single((IList<object?>)workers["dns_sd_configs"]!)!;
        Assert.Equal(9464L, sd["port"]);
        Assert.Equal(["worker"], ((IList<object?>)sd["names"]!).Cast<string>());

        var collector = (IDictionary<string, object?>)YamlValues.Load(File.ReadAllText(Path.Combine(RepoPaths.Deploy, "otel", "collector.yaml")))!;
        var pipelines = (IDictionary<string, object?>)((IDictionary<string, object?>)collector["service"]!)["pipelines"]!;
        var exporters = (IDictionary<string, object?>)collector["exporters"]!;
        foreach (var (_, pipeline) in pipelines)
            foreach (var exporter in (IList<object?>)((IDictionary<string, object?>)pipeline!)["exporters"]!)
                Assert.True(exporters.ContainsKey((string)exporter!), $"pipeline uses undefined exporter {exporter}");

        var datasources = (IDictionary<string, object?>)YamlValues.Load(File.ReadAllText(Path.Combine(RepoPaths.Deploy, "grafana", "provisioning", "datasources", "datasources.yaml")))!;
        var uids = ((IList<object?>)datasources["datasources"]!).Cast<IDictionary<string, object?>>().Select(d => (string)d["uid"]!).ToHashSet();
        var dashboards = Directory.EnumerateFiles(Path.Combine(RepoPaths.Deploy, "grafana", "dashboards"), "*.json").ToList();
        Assert.NotEmpty(dashboards);
        foreach (var file in dashboards)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            Assert.False(string.IsNullOrEmpty(doc.RootElement.GetProperty("uid").GetString()));
            foreach (var panel in doc.RootElement.GetProperty("panels").EnumerateArray())
            {
                if (panel.GetProperty("type").GetString() == "row") continue;   // a row only groups the panels below it
                Assert.Contains(panel.GetProperty("datasource").GetProperty("uid").GetString() ?? "", uids);
                Assert.Contains(panel.GetProperty("targets").EnumerateArray(), t => !string.IsNullOrWhiteSpace(t.GetProperty("expr").GetString()));
            }
        }
    }

    [Fact]
    public void Worker_metrics_reach_prometheus_by_one_path_so_no_sum_counts_twice()
    {
        // Prometheus scrapes each worker's /metrics (job moderation-workers, which the alerts and dashboard use);
        // the collector must not re-export the same series to a Prometheus endpoint that is scraped as well.
        var prometheus = (IDictionary<string, object?>)YamlValues.Load(File.ReadAllText(Path.Combine(RepoPaths.Deploy, "prometheus", "prometheus.yml")))!;
        var targets = ((IList<object?>)prometheus["scrape_configs"]!).Cast<IDictionary<string, object?>>()
            .SelectMany(j => (j.Get("static_configs") as IList<object?> ?? []).Cast<IDictionary<string, object?>>())
            .SelectMany(c => ((IList<object?>)c["targets"]!).Cast<string>()).ToList();
        Assert.DoesNotContain(targets, t => t.StartsWith("otel-collector:", StringComparison.Ordinal));
        var collector = (IDictionary<string, object?>)YamlValues.Load(File.ReadAllText(Path.Combine(RepoPaths.Deploy, "otel", "collector.yaml")))!;
        var metrics = (IDictionary<string, object?>)((IDictionary<string, object?>)((IDictionary<string, object?>)collector["service"]!)["pipelines"]!)["metrics"]!;
        Assert.DoesNotContain(((IList<object?>)metrics["exporters"]!).Cast<string>(), e => e.Split('/')[0] is "prometheus" or "prometheusremotewrite");
    }

    [Fact]
    public void Cpu_workers_pin_the_cpu_device_so_no_gpu_fallback_is_counted()
    {
        Assert.EndsWith("-cpu", (string)Service("worker")["image"]!);
        Assert.Equal("cpu", ((IDictionary<string, object?>)Service("worker")["environment"]!)["Inference__Device"]);
    }

    [Fact]
    public void Kafka_init_creates_every_topic_the_features_publish_to()
    {
        var command = string.Join("\n", ((IList<object?>)Service("kafka-init")["command"]!).Cast<string>());
        var created = System.Text.RegularExpressions.Regex.Matches(command, @"(?<=[\s])([a-z][a-z.-]*):\d+").Select(m => m.Groups[1].Value).ToHashSet();
        foreach (var topic in Topics.All.Concat([ReplayTopics.Takedown, ReplayTopics.Review, ReplayTopics.Allow, ReplayTopics.Dlq]))
            Assert.True(created.Contains(topic), $"kafka-init does not create {topic} (auto-creation is off)");
    }

    [Fact]
    public void The_review_console_runs_hardened_from_the_worker_image_on_this_host_only_with_its_users_file_read_only()
    {
        var review = Service("review");
        var worker = Service("worker");
        Assert.Equal(["review"], ((IList<object?>)review["command"]!).Cast<string>());
        // The same image and build as the workers: no image of its own.
        Assert.Equal(worker["image"], review["image"]);
        Assert.Equal(((IDictionary<string, object?>)worker["build"]!)["dockerfile"], ((IDictionary<string, object?>)review["build"]!)["dockerfile"]);
        Assert.Equal(true, review["read_only"]);
        Assert.Equal("10001:10001", review["user"]);
        Assert.Equal(["ALL"], ((IList<object?>)review["cap_drop"]!).Cast<string>());
        Assert.Contains("no-new-privileges:true", ((IList<object?>)review["security_opt"]!).Cast<string>());

        // The console and its metrics are published on the loopback address only.
        var env = ((IDictionary<string, object?>)review["environment"]!).ToDictionary(kv => kv.Key, kv => Convert.ToString(kv.Value, System.Globalization.CultureInfo.InvariantCulture));
        var ports = ((IList<object?>)review["ports"]!).Cast<string>().ToList();
        Assert.Equal([$"127.0.0.1:{env["Review__Port"]}:{env["Review__Port"]}", $"127.0.0.1:{env["Review__TelemetryPort"]}:{env["Review__TelemetryPort"]}"], ports);
        Assert.Equal(("8080", "9465"), (env["Review__Port"], env["Review__TelemetryPort"]));
        // Its image healthcheck asks /readyz on the telemetry port, not the worker's.
        var healthcheck = ((IList<object?>)((IDictionary<string, object?>)review["healthcheck"]!)["test"]!).Select(v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(["CMD", "dotnet", "/app/healthcheck/healthcheck.dll", env["Review__TelemetryPort"]!], healthcheck);

        // The stack's Kafka and Redis, and the workers' media through the same mount.
        var workerEnv = (IDictionary<string, object?>)worker["environment"]!;
        foreach (var key in new[] { "Kafka__BootstrapServers", "Redis__Configuration", "Media__Root" }) Assert.Equal((string)workerEnv[key]!, env[key]);
        var volumes = ((IList<object?>)review["volumes"]!).Cast<string>().ToList();
        Assert.Contains("./samples:/media:ro", volumes);

        // The users file is on the review-users volume, read-only here; the review-users tool writes it.
        var usersFile = env["Review__UsersFile"]!;
        var usersMount = Assert.Single(volumes, v => v.StartsWith("review-users:", StringComparison.Ordinal));
        var mountPath = usersMount.Split(':')[1];
        Assert.EndsWith(":ro", usersMount);
        Assert.Equal(mountPath, Path.GetDirectoryName(usersFile));
        var stack = (IDictionary<string, object?>)YamlValues.Load(File.ReadAllText(Path.Combine(RepoPaths.Deploy, "compose.yaml")), resolveMerges: true)!;
        Assert.True(((IDictionary<string, object?>)stack["volumes"]!).ContainsKey("review-users"));

        var tool = Service("review-users");
        Assert.Equal(["tools"], ((IList<object?>)tool["profiles"]!).Cast<string>());
        Assert.Equal(["dotnet", "/app/moderation.dll", "review", "user", "add"], ((IList<object?>)tool["entrypoint"]!).Cast<string>());
        Assert.Equal(review["image"], tool["image"]);
        Assert.Equal("10001:10001", tool["user"]);
        Assert.Equal(usersFile, ((IDictionary<string, object?>)tool["environment"]!)["Review__UsersFile"]);
        Assert.Equal([$"review-users:{mountPath}"], ((IList<object?>)tool["volumes"]!).Cast<string>());
        // The image makes that directory UID 10001's, so a new named volume takes that owner and the tool can write.
        foreach (var dockerfile in new[] { "Dockerfile", "Dockerfile.cuda" })
            Assert.Matches($@"(?m)^RUN mkdir -p {Regex.Escape(mountPath)} && chown 10001:10001 {Regex.Escape(mountPath)}\b",
                File.ReadAllText(Path.Combine(RepoPaths.Deploy, "docker", dockerfile)));

        var dependsOn = (IDictionary<string, object?>)review["depends_on"]!;
        Assert.Equal("service_completed_successfully", ((IDictionary<string, object?>)dependsOn["kafka-init"]!)["condition"]);
        Assert.Equal("service_healthy", ((IDictionary<string, object?>)dependsOn["redis"]!)["condition"]);
    }

    [Fact]
    public void Prometheus_scrapes_the_review_consoles_telemetry_port_as_the_job_the_review_alerts_name()
    {
        var prometheus = (IDictionary<string, object?>)YamlValues.Load(File.ReadAllText(Path.Combine(RepoPaths.Deploy, "prometheus", "prometheus.yml")))!;
        var jobs = ((IList<object?>)prometheus["scrape_configs"]!).Cast<IDictionary<string, object?>>().ToDictionary(j => (string)j["job_name"]!);
        var review = jobs["moderation-review"];
        Assert.Equal("/metrics", review["metrics_path"]);
        var sd = (IDictionary<string, object?>)Assert.Single((IList<object?>)review["dns_sd_configs"]!)!;
        var env = (IDictionary<string, object?>)Service("review")["environment"]!;
        Assert.Equal(Convert.ToInt64(env["Review__TelemetryPort"], System.Globalization.CultureInfo.InvariantCulture), sd["port"]);
        Assert.Equal(["review"], ((IList<object?>)sd["names"]!).Cast<string>());
        var alerts = File.ReadAllText(Path.Combine(RepoPaths.Deploy, "prometheus", "alerts.yml"));
        Assert.Contains("alert: ModerationReviewQueueStale", alerts);
        Assert.Contains("moderation_review_queue_oldest_age_seconds{job=\"moderation-review\"}", alerts);
    }
}
