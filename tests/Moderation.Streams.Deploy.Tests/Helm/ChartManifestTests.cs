using System.Text.RegularExpressions;
using k8s.Models;

namespace Moderation.Streams.Deploy.Tests.Helm;

/// <summary>
/// The chart rendered offline (see <see cref="GoTemplate"/>) for values.yaml and each example override, then
/// checked as Kubernetes objects: strict typed deserialization, names and labels, selectors that select, probes on
/// the contract's paths, a hardened pod, secrets only by reference, autoscaling wired to the group's lag.
/// </summary>
public sealed partial class ChartManifestTests
{
    public static TheoryData<string> Scenarios() => RenderedManifests.Scenarios();

    private static V1Deployment Worker(RenderedManifests m) =>
        Assert.Single(m.All<V1Deployment>(), d => d.Spec.Template.Metadata.Labels.Get("app.kubernetes.io/component") == "worker");

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [GeneratedRegex(@"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex DnsSubdomain();

    [GeneratedRegex(@"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")]
    private static partial Regex LabelValue();

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Every_rendered_object_is_valid_yaml_of_a_known_kind_with_a_valid_name_and_labels(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        Assert.NotEmpty(m.Objects);
        foreach (var o in m.Objects)
        {
            // Services and Deployments become DNS labels (and pod name prefixes); everything else a subdomain.
            var rule = o.Kind is "Service" or "Deployment" ? DnsLabel() : DnsSubdomain();
            Assert.True(rule.IsMatch(o.Name) && o.Name.Length <= (o.Kind is "Service" or "Deployment" ? 63 : 253), $"{o.Kind} name \"{o.Name}\"");
            var labels = ((o.Plain["metadata"] as IDictionary<string, object?>)?["labels"] as IDictionary<string, object?>) ?? new Dictionary<string, object?>();
            Assert.Equal("Helm", labels.Get("app.kubernetes.io/managed-by"));
            Assert.Equal(ChartRenderer.ReleaseName, labels.Get("app.kubernetes.io/instance"));
            foreach (var (key, value) in labels)
                Assert.True(value is string s && s.Length <= 63 && LabelValue().IsMatch(s), $"{o.Kind} {o.Name}: label {key}={value} is not a valid label value");
        }
        Assert.Equal(m.Objects.Count, m.Objects.Select(o => (o.Kind, o.Name)).Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void The_worker_pod_is_hardened_non_root_read_only_without_capabilities_or_api_token(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        var pod = Worker(m).Spec.Template.Spec;
        var worker = Assert.Single(pod.Containers);
        Assert.True(pod.SecurityContext.RunAsNonRoot);
        Assert.NotEqual(0, pod.SecurityContext.RunAsUser);
        Assert.Equal("RuntimeDefault", pod.SecurityContext.SeccompProfile.Type);
        Assert.True(worker.SecurityContext.ReadOnlyRootFilesystem);
        Assert.False(worker.SecurityContext.AllowPrivilegeEscalation);
        Assert.Equal(["ALL"], worker.SecurityContext.Capabilities.Drop);
        Assert.False(pod.AutomountServiceAccountToken);
        // The root filesystem is read-only: /tmp must be a volume.
        Assert.Contains(worker.VolumeMounts, v => v.MountPath == "/tmp");
        Assert.All(worker.VolumeMounts, mount => Assert.Contains(pod.Volumes, v => v.Name == mount.Name));
        Assert.Equal(pod.Volumes.Count, pod.Volumes.Select(v => v.Name).Distinct().Count());
        Assert.NotNull(worker.Resources.Requests);
        Assert.True(worker.Resources.Requests.ContainsKey("cpu") && worker.Resources.Requests.ContainsKey("memory"));
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Probes_use_the_contract_paths_on_the_named_metrics_port_of_telemetry_port(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        var worker = Worker(m).Spec.Template.Spec.Containers[0];
        var port = Assert.Single(worker.Ports, p => p.Name == "metrics");
        Assert.Equal((long)m.Value("telemetry.port")!, port.ContainerPort);
        Assert.Equal("/healthz", worker.StartupProbe.HttpGet.Path);
        Assert.Equal("/healthz", worker.LivenessProbe.HttpGet.Path);
        Assert.Equal("/readyz", worker.ReadinessProbe.HttpGet.Path);
        foreach (var probe in new[] { worker.StartupProbe, worker.LivenessProbe, worker.ReadinessProbe })
            Assert.Equal("metrics", probe.HttpGet.Port.Value);
        Assert.Equal("worker", Assert.Single(worker.Args));
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Selectors_of_the_deployment_service_budget_monitor_and_spread_select_the_worker_pods(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        var deployment = Worker(m);
        var podLabels = deployment.Spec.Template.Metadata.Labels;
        bool Selects(IDictionary<string, string> selector) => selector.Count > 0 && selector.All(kv => podLabels.Get(kv.Key) == kv.Value);

        Assert.True(Selects(deployment.Spec.Selector.MatchLabels));
        // The review console's Services and ServiceMonitor (review.enabled) select its own pods: ReviewChartTests.
        static bool ForWorkers(IDictionary<string, string>? selector) => selector?.Get("app.kubernetes.io/component") != "review";
        var services = m.All<V1Service>().Where(s => ForWorkers(s.Spec.Selector)).ToList();
        foreach (var service in services)
        {
            Assert.True(Selects(service.Spec.Selector), $"Service {service.Metadata.Name} selects no worker");
            Assert.All(service.Spec.Ports, p => Assert.Contains(deployment.Spec.Template.Spec.Containers[0].Ports, cp => cp.Name == p.TargetPort.Value));
        }
        foreach (var pdb in m.All<V1PodDisruptionBudget>()) Assert.True(Selects(pdb.Spec.Selector.MatchLabels));
        foreach (var spread in deployment.Spec.Template.Spec.TopologySpreadConstraints ?? []) Assert.True(Selects(spread.LabelSelector.MatchLabels));
        foreach (var monitor in m.Custom("ServiceMonitor"))
        {
            var spec = (IDictionary<string, object?>)monitor.Plain["spec"]!;
            var matchLabels = ((IDictionary<string, object?>)((IDictionary<string, object?>)spec["selector"]!)["matchLabels"]!).ToDictionary(kv => kv.Key, kv => (string)kv.Value!);
            if (!ForWorkers(matchLabels)) continue;
            var service = Assert.Single(services);
            Assert.True(matchLabels.All(kv => service.Metadata.Labels.Get(kv.Key) == kv.Value), "the ServiceMonitor selects no Service");
            var endpoint = (IDictionary<string, object?>)Assert.Single((IList<object?>)spec["endpoints"]!)!;
            Assert.Equal("metrics", endpoint["port"]);
            Assert.Equal("/metrics", endpoint["path"]);
        }
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Configuration_reaches_the_worker_through_a_rendered_configmap_with_dotnet_keys(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        var worker = Worker(m).Spec.Template.Spec.Containers[0];
        var configMaps = m.All<V1ConfigMap>().ToDictionary(c => c.Metadata.Name);
        var envFrom = Assert.Single(worker.EnvFrom);
        var config = configMaps[envFrom.ConfigMapRef.Name].Data;
        Assert.Equal(m.Value("kafka.bootstrapServers"), config["Kafka__BootstrapServers"]);
        Assert.Equal(m.Value("kafka.groupId"), config["Kafka__GroupId"]);
        Assert.Equal(m.Value("kafka.topics.uploads"), config["Kafka__UploadsTopic"]);
        Assert.Equal(m.Value("screening.model"), config["Screening__Model"]);
        Assert.Equal(m.Value("screening.precision"), config["Inference__Precision"]);
        Assert.Equal(m.Value("screening.exactDuplicates")!.ToString(), config["Screening__ExactDuplicates"]);
        Assert.Equal(m.Value("screening.uploaderBatchSize")!.ToString(), config["Screening__UploaderBatchSize"]);
        Assert.Equal(m.Value("screening.uploaderBatchWindowMs")!.ToString(), config["Screening__UploaderBatchWindowMs"]);
        Assert.Equal(m.Value("telemetry.port")!.ToString(), config["Telemetry__Port"]);
        Assert.All(config.Keys, k => Assert.Matches("^[A-Za-z_][A-Za-z0-9_.]*$", k));
        // The pod template changes when the configuration does, so `helm upgrade` rolls the workers.
        Assert.Matches("^[0-9a-f]{64}$", Worker(m).Spec.Template.Metadata.Annotations["checksum/config"]);

        var policy = worker.VolumeMounts?.SingleOrDefault(v => v.Name == "policy");
        if (m.Value("policy.json") is string { Length: > 0 } json)
        {
            Assert.NotNull(policy);
            Assert.Equal("/etc/moderation/policy/policy.json", config["Screening__PolicyFile"]);
            var volume = Worker(m).Spec.Template.Spec.Volumes.Single(v => v.Name == "policy");
            Assert.Equal(json.Trim(), configMaps[volume.ConfigMap.Name].Data["policy.json"].Trim());
            System.Text.Json.JsonDocument.Parse(json).Dispose();
        }
        else
        {
            Assert.Null(policy);
            Assert.False(config.ContainsKey("Screening__PolicyFile"));
        }
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Replicas_are_fixed_only_without_autoscaling_and_the_autoscaler_targets_the_worker_on_the_groups_lag(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        var deployment = Worker(m);
        var scaledObjects = m.Custom("ScaledObject").ToList();
        var hpas = m.All<V2HorizontalPodAutoscaler>().ToList();
        if (m.Value("autoscaling.enabled") is not true)
        {
            Assert.Equal((long?)m.Value("replicaCount"), (long?)deployment.Spec.Replicas);
            Assert.Empty(scaledObjects);
            Assert.Empty(hpas);
            return;
        }
        // Without spec.replicas, `helm upgrade` never fights the autoscaler over the replica count.
        Assert.Null(deployment.Spec.Replicas);
        var min = (long)m.Value("autoscaling.minReplicas")!;
        var max = (long)m.Value("autoscaling.maxReplicas")!;
        Assert.True(min <= max);
        if ((string)m.Value("autoscaling.mode")! == "keda")
        {
            Assert.Empty(hpas);
            var spec = (IDictionary<string, object?>)Assert.Single(scaledObjects).Plain["spec"]!;
            Assert.Equal(deployment.Metadata.Name, ((IDictionary<string, object?>)spec["scaleTargetRef"]!)["name"]);
            Assert.Equal((object)min, spec["minReplicaCount"]);
            Assert.Equal((object)max, spec["maxReplicaCount"]);
            var behavior = (IDictionary<string, object?>)((IDictionary<string, object?>)((IDictionary<string, object?>)spec["advanced"]!)["horizontalPodAutoscalerConfig"]!)["behavior"]!;
            Assert.Equal(m.Value("autoscaling.scaleDown.stabilizationWindowSeconds"), ((IDictionary<string, object?>)behavior["scaleDown"]!)["stabilizationWindowSeconds"]);
            var trigger = (IDictionary<string, object?>)Assert.Single((IList<object?>)spec["triggers"]!)!;
            Assert.Equal("kafka", trigger["type"]);
            var metadata = (IDictionary<string, object?>)trigger["metadata"]!;
            // KEDA trigger metadata is a map of strings.
            Assert.All(metadata.Values, v => Assert.IsType<string>(v));
            Assert.Equal(m.Value("kafka.groupId"), metadata["consumerGroup"]);
            Assert.Equal(m.Value("kafka.topics.uploads"), metadata["topic"]);
            Assert.Equal(m.Value("kafka.bootstrapServers"), metadata["bootstrapServers"]);
            Assert.Equal(m.Value("autoscaling.lagThreshold")!.ToString(), metadata["lagThreshold"]);
            Assert.Equal("false", metadata["allowIdleConsumers"]);
            if (trigger.TryGetValue("authenticationRef", out var authRef))
            {
                var auth = Assert.Single(m.Custom("TriggerAuthentication"));
                Assert.Equal(auth.Name, ((IDictionary<string, object?>)authRef!)["name"]);
                var refs = (IList<object?>)((IDictionary<string, object?>)auth.Plain["spec"]!)["secretTargetRef"]!;
                Assert.All(refs, r => Assert.Contains(((IDictionary<string, object?>)r!)["parameter"], new[] { "username", "password", "ca", "cert", "key", "keyPassword" }));
            }
        }
        else
        {
            Assert.Empty(scaledObjects);
            var hpa = Assert.Single(hpas);
            Assert.Equal(("Deployment", deployment.Metadata.Name), (hpa.Spec.ScaleTargetRef.Kind, hpa.Spec.ScaleTargetRef.Name));
            Assert.Equal(min, (long?)hpa.Spec.MinReplicas);
            Assert.Equal(max, (long)hpa.Spec.MaxReplicas);
            var metric = Assert.Single(hpa.Spec.Metrics);
            Assert.Equal("External", metric.Type);
            Assert.Equal("AverageValue", metric.External.Target.Type);
            Assert.Equal(m.Value("autoscaling.scaleDown.stabilizationWindowSeconds"), (long?)hpa.Spec.Behavior.ScaleDown.StabilizationWindowSeconds);
        }
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Gpu_workers_request_the_device_and_land_on_gpu_nodes_and_cpu_workers_do_not(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        var pod = Worker(m).Spec.Template.Spec;
        var limits = pod.Containers[0].Resources.Limits ?? new Dictionary<string, ResourceQuantity>();
        var resourceName = (string)m.Value("gpu.resourceName")!;
        var config = m.All<V1ConfigMap>().Single(c => c.Metadata.Name == pod.Containers[0].EnvFrom[0].ConfigMapRef.Name).Data;
        Assert.Equal(m.Value("gpu.enabled") is true ? "cuda" : "cpu", config["Inference__Device"]);
        Assert.Equal(m.Value("screening.maxBatchSize")!.ToString(), config["Inference__MaxBatchSize"]);
        if (m.Value("gpu.enabled") is true)
        {
            Assert.Equal((long)m.Value("gpu.count")!, limits[resourceName].ToInt64());
            Assert.Contains(pod.Tolerations, t => t.Key == "nvidia.com/gpu");
            Assert.Equal("true", pod.NodeSelector["nvidia.com/gpu.present"]);
            Assert.EndsWith("-cuda", pod.Containers[0].Image);
        }
        else
        {
            Assert.False(limits.ContainsKey(resourceName));
            Assert.DoesNotContain(pod.Tolerations ?? [], t => t.Key == "nvidia.com/gpu");
        }
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Workers_join_the_group_as_static_members_named_after_their_pod_with_a_heartbeat_within_the_session(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        var worker = Worker(m).Spec.Template.Spec.Containers[0];
        var instance = worker.Env?.SingleOrDefault(e => e.Name == "Kafka__GroupInstanceId");
        if (m.Value("kafka.staticMembership") is true)
            Assert.Equal("metadata.name", instance?.ValueFrom?.FieldRef?.FieldPath);
        else
            Assert.Null(instance);
        var config = m.All<V1ConfigMap>().Single(c => c.Metadata.Name == Assert.Single(worker.EnvFrom).ConfigMapRef.Name).Data;
        int session = int.Parse(config["Kafka__SessionTimeoutMs"]), heartbeat = int.Parse(config["Kafka__HeartbeatIntervalMs"]);
        Assert.True(heartbeat * 3 <= session, $"heartbeat {heartbeat} ms above a third of the session timeout {session} ms");
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Termination_grace_outlasts_the_workers_drain_timeout(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        var grace = Worker(m).Spec.Template.Spec.TerminationGracePeriodSeconds!.Value;
        var drain = TimeSpan.Parse((string)m.Value("kafka.shutdownTimeout")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(grace > drain.TotalSeconds, $"terminationGracePeriodSeconds {grace} <= shutdownTimeout {drain}");
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Notes_render_and_tell_how_to_watch_the_rollout(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        var notes = m.Rendered["templates/NOTES.txt"];
        Assert.Contains($"rollout status deployment/{Worker(m).Metadata.Name}", notes);
        Assert.Contains((string)m.Value("kafka.groupId")!, notes);
    }

    [Fact]
    public void The_default_render_has_the_documented_objects()
    {
        var kinds = RenderedManifests.For(RenderedManifests.Default).Objects.Select(o => o.Kind).Order().ToList();
        Assert.Equal(["ConfigMap", "Deployment", "PodDisruptionBudget", "Service", "ServiceAccount"], kinds);
    }
}
