using k8s.Models;
using Microsoft.Extensions.Configuration;
using Moderation.Streams.Review;

namespace Moderation.Streams.Deploy.Tests.Helm;

/// <summary>
/// The chart's optional review console (<c>review.enabled</c>): nothing of it by default; when on, a Deployment running
/// <c>moderation review</c> from the worker image with the workers' Kafka, Redis, media and secrets, its users file from
/// a Secret (0400), its pod name as <c>Review__InstanceId</c>, probes on the telemetry port, a hardened pod, a console
/// Service and a metrics Service scraped by its own ServiceMonitor, and the review alerts pointed at that job.
/// </summary>
public sealed class ReviewChartTests
{
    /// <summary>The console with its own names and ports; with Redis auth, TLS and media on a PVC; with every credential.</summary>
    public static TheoryData<string> On() => new("review.yaml", "review", "hpa-redis-auth.yaml+review", "gpu-keda-sasl.yaml+review", "all-credentials+review");

    /// <summary>values.yaml and every example but review.yaml.</summary>
    public static TheoryData<string> Off() =>
        new(RenderedManifests.Scenarios().Select(row => row.Data).Where(s => RenderedManifests.For(s).Value("review.enabled") is not true).ToArray());

    [Fact]
    public void Only_the_review_example_turns_the_console_on()
    {
        Assert.Equal(["review.yaml"], RenderedManifests.Scenarios().Select(row => row.Data).Where(s => RenderedManifests.For(s).Value("review.enabled") is true));
        Assert.Contains(RenderedManifests.Default, Off().Select(row => row.Data));
    }

    private static bool IsReview(IDictionary<string, string>? labels) => labels?.Get("app.kubernetes.io/component") == "review";

    private static V1Deployment Review(RenderedManifests m) => Assert.Single(m.All<V1Deployment>(), d => IsReview(d.Spec.Template.Metadata.Labels));

    private static V1Deployment Worker(RenderedManifests m) =>
        Assert.Single(m.All<V1Deployment>(), d => d.Spec.Template.Metadata.Labels.Get("app.kubernetes.io/component") == "worker");

    private static string Name(RenderedManifests m) => Review(m).Metadata.Name;

    private static bool Selects(IDictionary<string, string>? selector, IDictionary<string, string> labels) =>
        selector is { Count: > 0 } && selector.All(kv => labels.Get(kv.Key) == kv.Value);

    /// <summary>The container's environment from its ConfigMaps in order (a later one wins) and its plain env entries.</summary>
    private static Dictionary<string, string> Environment(RenderedManifests m, V1Container container)
    {
        var env = new Dictionary<string, string>();
        foreach (var from in container.EnvFrom)
            foreach (var (k, v) in m.All<V1ConfigMap>().Single(c => c.Metadata.Name == from.ConfigMapRef.Name).Data) env[k] = v;
        foreach (var e in container.Env ?? []) if (e.Value is not null) env[e.Name] = e.Value;
        return env;
    }

    [Theory]
    [MemberData(nameof(Off))]
    public void Without_review_enabled_nothing_of_the_console_is_rendered(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        Assert.NotEqual(true, m.Value("review.enabled"));
        Assert.DoesNotContain(m.Objects, o => o.Name.EndsWith("-review", StringComparison.Ordinal) || o.Name.Contains("-review-", StringComparison.Ordinal));
        Assert.DoesNotContain(m.Objects, o => o.Plain.Get("metadata") is IDictionary<string, object?> meta
            && meta.Get("labels") is IDictionary<string, object?> labels && labels.Get("app.kubernetes.io/component") is "review");
        Assert.DoesNotContain("Review console", m.Rendered["templates/NOTES.txt"]);
    }

    [Theory]
    [MemberData(nameof(On))]
    public void The_console_renders_as_valid_objects_beside_an_unchanged_worker(string scenario)
    {
        new ChartManifestTests().Every_rendered_object_is_valid_yaml_of_a_known_kind_with_a_valid_name_and_labels(scenario);
        var m = RenderedManifests.For(scenario);
        var withoutReview = RenderedManifests.For(scenario is "review" or "review.yaml" ? RenderedManifests.Default : scenario[..^"+review".Length]);
        // The worker's objects are exactly what they are without the console (the fixture also turns on the
        // ServiceMonitor and PrometheusRule); everything else is the console's.
        static string Key(RenderedManifests.Manifest o) => $"{o.Kind}/{o.Name}";
        var objects = m.Objects.ToDictionary(Key);
        foreach (var o in withoutReview.Objects.Where(o => o.Kind != "PrometheusRule"))
            Assert.Equal(KubernetesText(o), KubernetesText(objects[Key(o)]));
        var added = m.Objects.Select(Key).Except(withoutReview.Objects.Select(Key)).Order().ToList();
        Assert.All(added, k => Assert.True(k.StartsWith($"ServiceMonitor/", StringComparison.Ordinal) || k.StartsWith("PrometheusRule/", StringComparison.Ordinal)
            || k.EndsWith(Name(m), StringComparison.Ordinal) || k.Contains(Name(m) + "-", StringComparison.Ordinal), k));
        Assert.Equal(
            ["ConfigMap/" + Name(m) + "-env", "Deployment/" + Name(m), "Service/" + Name(m), "Service/" + Name(m) + "-metrics"],
            added.Where(k => k.Contains(Name(m), StringComparison.Ordinal) && !k.StartsWith("ServiceMonitor/", StringComparison.Ordinal)));
        Assert.Equal("worker", Assert.Single(Worker(m).Spec.Template.Spec.Containers).Args.Single());
    }

    private static string KubernetesText(RenderedManifests.Manifest o) => YamlValues.ToYaml(o.Plain);

    [Theory]
    [MemberData(nameof(On))]
    public void The_console_runs_moderation_review_from_the_worker_image_with_probes_on_the_telemetry_port(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        var review = Review(m);
        var worker = Worker(m).Spec.Template.Spec.Containers[0];
        Assert.Equal((long)m.Value("review.replicas")!, (long)review.Spec.Replicas!);
        var container = Assert.Single(review.Spec.Template.Spec.Containers);
        Assert.Equal(["review"], container.Args);
        Assert.Equal(worker.Image, container.Image);
        Assert.Equal((long)m.Value("review.port")!, Assert.Single(container.Ports, p => p.Name == "http").ContainerPort);
        Assert.Equal((long)m.Value("review.telemetryPort")!, Assert.Single(container.Ports, p => p.Name == "metrics").ContainerPort);
        Assert.Equal(("/readyz", "metrics"), (container.ReadinessProbe.HttpGet.Path, container.ReadinessProbe.HttpGet.Port.Value));
        Assert.Equal(("/healthz", "metrics"), (container.LivenessProbe.HttpGet.Path, container.LivenessProbe.HttpGet.Port.Value));
        Assert.Equal((long)m.Value("review.terminationGracePeriodSeconds")!, review.Spec.Template.Spec.TerminationGracePeriodSeconds!.Value);
        Assert.True(review.Spec.Template.Spec.TerminationGracePeriodSeconds > 30, "the console's shutdown timeout is 30 s");
        Assert.Matches("^[0-9a-f]{64}$", review.Spec.Template.Metadata.Annotations["checksum/config"]);
        Assert.Matches("^[0-9a-f]{64}$", review.Spec.Template.Metadata.Annotations["checksum/review-config"]);
        // No GPU: the console never runs the model.
        Assert.DoesNotContain((container.Resources.Limits ?? new Dictionary<string, ResourceQuantity>()).Keys, k => k.Contains("gpu", StringComparison.Ordinal));
        Assert.True(container.Resources.Requests.ContainsKey("cpu") && container.Resources.Requests.ContainsKey("memory"));
    }

    [Theory]
    [MemberData(nameof(On))]
    public void The_console_pod_is_hardened_like_the_workers(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        var pod = Review(m).Spec.Template.Spec;
        var workerPod = Worker(m).Spec.Template.Spec;
        var container = pod.Containers[0];
        Assert.Equal(k8s.KubernetesYaml.Serialize(workerPod.SecurityContext), k8s.KubernetesYaml.Serialize(pod.SecurityContext));
        Assert.Equal(k8s.KubernetesYaml.Serialize(workerPod.Containers[0].SecurityContext), k8s.KubernetesYaml.Serialize(container.SecurityContext));
        Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
        Assert.False(container.SecurityContext.AllowPrivilegeEscalation);
        Assert.Equal(["ALL"], container.SecurityContext.Capabilities.Drop);
        Assert.True(pod.SecurityContext.RunAsNonRoot);
        Assert.False(pod.AutomountServiceAccountToken);
        Assert.Equal(workerPod.ServiceAccountName, pod.ServiceAccountName);
        Assert.Contains(container.VolumeMounts, v => v.MountPath == "/tmp");
        Assert.All(container.VolumeMounts, mount => Assert.Contains(pod.Volumes, v => v.Name == mount.Name));
    }

    [Theory]
    [MemberData(nameof(On))]
    public void The_console_reads_kafka_redis_and_media_as_the_workers_do_and_names_its_locks_after_its_pod(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        var pod = Review(m).Spec.Template.Spec;
        var container = pod.Containers[0];
        var workerPod = Worker(m).Spec.Template.Spec;
        var worker = workerPod.Containers[0];

        // The workers' ConfigMap first, the console's own after it (a later envFrom wins).
        Assert.Equal(Assert.Single(worker.EnvFrom).ConfigMapRef.Name, container.EnvFrom[0].ConfigMapRef.Name);
        Assert.Equal($"{Name(m)}-env", container.EnvFrom[^1].ConfigMapRef.Name);
        var env = Environment(m, container);
        var workerEnv = Environment(m, worker);
        foreach (var key in workerEnv.Keys.Where(k => k.StartsWith("Kafka__", StringComparison.Ordinal) || k.StartsWith("Redis__", StringComparison.Ordinal) || k.StartsWith("Media__", StringComparison.Ordinal)))
            Assert.Equal(workerEnv[key], env[key]);

        // Review__InstanceId is the pod name (a container restarted in its pod finishes its own pending verdicts);
        // the workers' static-membership id is theirs alone.
        Assert.Equal("metadata.name", Assert.Single(container.Env, e => e.Name == "Review__InstanceId").ValueFrom.FieldRef.FieldPath);
        Assert.DoesNotContain(container.Env, e => e.Name == "Kafka__GroupInstanceId");
        Assert.Equal(
            (worker.Env ?? []).Where(e => e.ValueFrom?.SecretKeyRef is not null).Select(e => (e.Name, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)),
            container.Env.Where(e => e.ValueFrom?.SecretKeyRef is not null).Select(e => (e.Name, e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key)));

        // The same Kafka/Redis secret volumes and the same media volume, at the same paths.
        static IEnumerable<string> Shared(V1PodSpec p, V1Container c) => c.VolumeMounts.Where(v => v.Name is "kafka-secrets" or "redis-secrets" or "media")
            .Select(v => $"{v.Name} {v.MountPath} {v.ReadOnlyProperty} {k8s.KubernetesYaml.Serialize(p.Volumes.Single(x => x.Name == v.Name))}").Order();
        Assert.Equal(Shared(workerPod, worker), Shared(pod, container));
        if (m.Value("media.volume") is IDictionary<string, object?> { Count: > 0 })
            Assert.Contains(container.VolumeMounts, v => v.Name == "media" && v.MountPath == (string)m.Value("media.root")! && v.ReadOnlyProperty == true);

        // The console's settings bind to its real options, with nothing unknown, and validate.
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(env.Where(kv => kv.Key.StartsWith("Review__", StringComparison.Ordinal))
                .Select(kv => KeyValuePair.Create(kv.Key.Replace("__", ":", StringComparison.Ordinal), (string?)kv.Value)))
            .AddInMemoryCollection([KeyValuePair.Create("Review:InstanceId", (string?)"mod-moderation-streams-review-5d9c7-abcde")])
            .Build();
        var options = configuration.GetSection("Review").Get<ReviewOptions>(o => o.ErrorOnUnknownConfiguration = true)!;
        Assert.True(System.ComponentModel.DataAnnotations.Validator.TryValidateObject(options, new(options), null, validateAllProperties: true));
        Assert.Empty(options.Validate(new(options)));
        Assert.Equal((long)m.Value("review.port")!, options.Port);
        Assert.Equal((long)m.Value("review.telemetryPort")!, options.TelemetryPort);
        Assert.Equal(m.Value("review.groupId"), options.GroupId);
        Assert.Equal(m.Value("review.reviewsTopic"), options.ReviewsTopic);
        Assert.Equal(TimeSpan.Parse((string)m.Value("review.claimTtl")!, System.Globalization.CultureInfo.InvariantCulture), options.ClaimTtl);
        Assert.Equal("0.0.0.0", options.BindAddress);
        Assert.Equal(((IList<object?>?)m.Value("review.trustedProxies") ?? []).Cast<string>(), options.TrustedProxies);
        if (scenario == "review.yaml") Assert.Equal(["10.0.0.0/8"], options.TrustedProxies);
        foreach (var extra in ((IList<object?>?)m.Value("review.extraEnv") ?? []).Cast<IDictionary<string, object?>>())
            Assert.Equal(extra["value"], configuration[((string)extra["name"]!).Replace("__", ":", StringComparison.Ordinal)]);
        if (scenario == "review") Assert.Equal("groups", options.Oidc.RoleClaim);
        // The users file is the 0400 projection of review.users.existingSecret's key, mounted read-only.
        var mount = Assert.Single(container.VolumeMounts, v => v.Name == "review-users");
        Assert.True(mount.ReadOnlyProperty);
        Assert.Equal(mount.MountPath + "/review-users.json", options.UsersFile);
        var volume = Assert.Single(pod.Volumes, v => v.Name == "review-users").Projected;
        Assert.Equal(Convert.ToInt32("400", 8), volume.DefaultMode);
        var secret = Assert.Single(volume.Sources).Secret;
        Assert.Equal(m.Value("review.users.existingSecret"), secret.Name);
        Assert.Equal((string)m.Value("review.users.key")!, Assert.Single(secret.Items).Key);
        Assert.Equal("review-users.json", secret.Items[0].Path);
    }

    [Theory]
    [MemberData(nameof(On))]
    public void The_console_and_its_metrics_have_their_own_services_and_selectors_disjoint_from_the_workers(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        var review = Review(m);
        var reviewPod = review.Spec.Template.Metadata.Labels;
        var workerPod = Worker(m).Spec.Template.Metadata.Labels;
        var container = review.Spec.Template.Spec.Containers[0];

        Assert.True(Selects(review.Spec.Selector.MatchLabels, reviewPod));
        Assert.False(Selects(review.Spec.Selector.MatchLabels, workerPod));
        Assert.False(Selects(Worker(m).Spec.Selector.MatchLabels, reviewPod));
        foreach (var pdb in m.All<V1PodDisruptionBudget>()) Assert.False(Selects(pdb.Spec.Selector.MatchLabels, reviewPod));

        var services = m.All<V1Service>().ToList();
        foreach (var service in services) Assert.NotEqual(Selects(service.Spec.Selector, reviewPod), Selects(service.Spec.Selector, workerPod));
        var console = Assert.Single(services, s => s.Metadata.Name == Name(m));
        var port = Assert.Single(console.Spec.Ports);
        Assert.Equal(("http", (long)m.Value("review.service.port")!, "http"), (port.Name, (long)port.Port, port.TargetPort.Value));
        Assert.Equal(m.Value("review.service.type"), console.Spec.Type);
        Assert.Equal(((IDictionary<string, object?>?)m.Value("review.service.annotations"))?.Count ?? 0, console.Metadata.Annotations?.Count ?? 0);
        var metrics = Assert.Single(services, s => s.Metadata.Name == Name(m) + "-metrics");
        Assert.Equal("ClusterIP", metrics.Spec.Type);
        var metricsPort = Assert.Single(metrics.Spec.Ports);
        Assert.Equal(("metrics", (long)m.Value("review.telemetryPort")!, "metrics"), (metricsPort.Name, (long)metricsPort.Port, metricsPort.TargetPort.Value));
        foreach (var service in new[] { console, metrics })
        {
            Assert.True(Selects(service.Spec.Selector, reviewPod));
            Assert.All(service.Spec.Ports, p => Assert.Contains(container.Ports, cp => cp.Name == p.TargetPort.Value));
        }
    }

    [Theory]
    [MemberData(nameof(On))]
    public void A_service_monitor_scrapes_the_consoles_metrics_service_and_the_rules_name_its_job(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        var monitors = m.Custom("ServiceMonitor").ToList();
        var rules = m.Custom("PrometheusRule").ToList();
        if (m.Value("serviceMonitor.enabled") is not true)
        {
            Assert.Empty(monitors);
            return;
        }
        var services = m.All<V1Service>().ToList();
        List<V1Service> SelectedBy(RenderedManifests.Manifest monitor)
        {
            var spec = (IDictionary<string, object?>)monitor.Plain["spec"]!;
            var matchLabels = ((IDictionary<string, object?>)((IDictionary<string, object?>)spec["selector"]!)["matchLabels"]!).ToDictionary(kv => kv.Key, kv => (string)kv.Value!);
            var endpoint = (IDictionary<string, object?>)Assert.Single((IList<object?>)spec["endpoints"]!)!;
            Assert.Equal(("metrics", "/metrics"), ((string)endpoint["port"]!, (string)endpoint["path"]!));
            // prometheus-operator scrapes the selected Services' ports named like the endpoint's.
            return services.Where(s => Selects(matchLabels, s.Metadata.Labels) && s.Spec.Ports.Any(p => p.Name == "metrics")).ToList();
        }
        var reviewMonitor = Assert.Single(monitors, o => o.Name == Name(m));
        Assert.Equal(Name(m) + "-metrics", Assert.Single(SelectedBy(reviewMonitor)).Metadata.Name);
        Assert.Equal(m.Value("serviceMonitor.labels.release") ?? null, ((IDictionary<string, object?>)((IDictionary<string, object?>)reviewMonitor.Plain["metadata"]!)["labels"]!).Get("release"));
        foreach (var other in monitors.Where(o => o != reviewMonitor))
            Assert.DoesNotContain(SelectedBy(other), s => s.Metadata.Name.StartsWith(Name(m), StringComparison.Ordinal));

        if (m.Value("prometheusRule.enabled") is not true) return;
        var exprs = string.Join("\n", ((IList<object?>)((IDictionary<string, object?>)Assert.Single(rules).Plain["spec"]!)["groups"]!)
            .Cast<IDictionary<string, object?>>().SelectMany(g => ((IList<object?>)g["rules"]!).Cast<IDictionary<string, object?>>())
            .Where(r => ((string)r["alert"]!).StartsWith("ModerationReview", StringComparison.Ordinal)).Select(r => (string)r["expr"]!));
        Assert.Contains($"job=\"{Name(m)}-metrics\"", exprs);
        Assert.DoesNotContain("moderation-review\"", exprs);
    }

    [Theory]
    [MemberData(nameof(On))]
    public void Notes_tell_how_to_add_a_user_and_reach_the_console(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        var notes = m.Rendered["templates/NOTES.txt"];
        Assert.Contains($"service/{Name(m)} ", notes);
        Assert.Contains("moderation review user add", notes);
        Assert.Contains($"create secret generic {m.Value("review.users.existingSecret")} --from-file={m.Value("review.users.key")}=", notes);
        Assert.Contains("reads the changed Secret without a restart", notes);
        Assert.Contains($"rollout status deployment/{Worker(m).Metadata.Name}", notes);
    }

    [Fact]
    public void The_console_without_a_users_secret_does_not_render_and_the_schema_refuses_it()
    {
        var chart = new ChartRenderer(RepoPaths.Chart);
        var values = chart.Values("review: { enabled: true }");
        var e = Assert.Throws<TemplateException>(() => chart.Render(values));
        Assert.Contains("review.users.existingSecret is required", e.Message);
        Assert.False(ChartValuesSchemaTests.Evaluate(values).IsValid);
        Assert.True(ChartValuesSchemaTests.Evaluate(chart.Values("review: { enabled: true, users: { existingSecret: logins } }")).IsValid);
    }

    [Fact]
    public void The_console_without_redis_does_not_render_and_the_schema_refuses_it()
    {
        // Its queue, claims and verdicts live in Redis: a release without Redis (minimal.yaml) cannot run it.
        var chart = new ChartRenderer(RepoPaths.Chart);
        var values = chart.Values(File.ReadAllText(Path.Combine(RepoPaths.Chart, "examples", "minimal.yaml")), "review: { enabled: true, users: { existingSecret: logins } }");
        var e = Assert.Throws<TemplateException>(() => chart.Render(values));
        Assert.Contains("review.enabled needs redis.configuration", e.Message);
        Assert.False(ChartValuesSchemaTests.Evaluate(values).IsValid);
    }

    [Fact]
    public void A_long_release_name_keeps_the_console_names_within_63_characters()
    {
        var chart = new ChartRenderer(RepoPaths.Chart);
        var rendered = chart.Render(chart.Values("fullnameOverride: " + new string('a', 63), "review: { enabled: true, users: { existingSecret: logins } }"));
        var names = ChartRenderer.Documents(rendered).Where(d => d.Source.Contains("review", StringComparison.Ordinal))
            .Select(d => System.Text.RegularExpressions.Regex.Match(d.Yaml, @"(?m)^  name: (\S+)$").Groups[1].Value).ToList();
        Assert.NotEmpty(names);
        Assert.All(names, n => Assert.InRange(n.Length, 1, 63));
        Assert.Contains(names, n => n.EndsWith("-review-metrics", StringComparison.Ordinal));
    }
}
