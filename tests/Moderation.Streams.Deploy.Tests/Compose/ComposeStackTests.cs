using System.Text.Json;
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
}
