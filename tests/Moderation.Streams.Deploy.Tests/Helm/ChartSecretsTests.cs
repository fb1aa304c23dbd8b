using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using k8s.Models;
using Microsoft.Extensions.Configuration;
using Moderation.Streams.Kafka;
using Moderation.Streams.Redis;
using Moderation.Streams.Worker;

namespace Moderation.Streams.Deploy.Tests.Helm;

/// <summary>
/// Credentials reach the worker, the review console and the replay Job only as files (SECURITY.md: never environment variables or
/// configuration values): each pod mounts the referenced Secrets' keys read-only with mode 0400 under
/// /var/run/secrets/moderation, and the ConfigMap points the worker's *File settings (Kafka:Security,
/// Redis:Security) at them. The expected files are computed here from the values, not read back from the chart;
/// then the worker's own KafkaSecurity and RedisConnector, configured exactly as the pod would be, must read the
/// secrets from those files.
/// </summary>
public sealed partial class ChartSecretsTests
{
    private const string SecretsRoot = "/var/run/secrets/moderation/";
    private const string KafkaDir = SecretsRoot + "kafka/";
    private const string RedisDir = SecretsRoot + "redis/";
    private const string ReviewDir = SecretsRoot + "review/";

    /// <summary>Every example, the examples with credentials plus the replay Job, and the test fixtures.</summary>
    public static TheoryData<string> Scenarios() =>
        new(RenderedManifests.Scenarios().Select(row => row.Data)
            .Concat(["gpu-keda-sasl.yaml+replay.yaml", "hpa-redis-auth.yaml+replay.yaml", "all-credentials", "kafka-mtls-only",
                "review", "hpa-redis-auth.yaml+review", "all-credentials+review"]));

    public static TheoryData<string> ReplayScenarios() =>
        new("gpu-keda-sasl.yaml+replay.yaml", "hpa-redis-auth.yaml+replay.yaml", "all-credentials", "kafka-mtls-only");

    /// <summary>A mounted secret file the values call for: which Secret and key, where, and which setting reads it.</summary>
    public sealed record SecretFile(string Secret, string Key, string Path, string Setting);

    /// <summary>The files the values call for, derived from the values alone.</summary>
    private static List<SecretFile> Expected(RenderedManifests m)
    {
        string S(string path) => (string?)m.Value(path) ?? "";
        var files = new List<SecretFile>();
        var protocol = S("kafka.security.protocol");
        if (protocol.StartsWith("SASL_", StringComparison.Ordinal))
            files.Add(new(S("kafka.security.sasl.existingSecret"), S("kafka.security.sasl.passwordKey"), KafkaDir + "password", "Kafka__Security__PasswordFile"));
        if (protocol.EndsWith("SSL", StringComparison.Ordinal) && S("kafka.security.tls.existingSecret") is { Length: > 0 } kafkaTls)
        {
            files.Add(new(kafkaTls, S("kafka.security.tls.caKey"), KafkaDir + "ca.crt", "Kafka__Security__CaFile"));
            if (S("kafka.security.tls.certKey").Length > 0 && S("kafka.security.tls.keyKey").Length > 0)
            {
                files.Add(new(kafkaTls, S("kafka.security.tls.certKey"), KafkaDir + "client.crt", "Kafka__Security__CertificateFile"));
                files.Add(new(kafkaTls, S("kafka.security.tls.keyKey"), KafkaDir + "client.key", "Kafka__Security__KeyFile"));
                if (S("kafka.security.tls.keyPasswordKey") is { Length: > 0 } keyPassword)
                    files.Add(new(kafkaTls, keyPassword, KafkaDir + "client.key.password", "Kafka__Security__KeyPasswordFile"));
            }
        }
        if (S("redis.configuration").Length > 0)
        {
            if (S("redis.existingSecret") is { Length: > 0 } redisSecret)
                files.Add(new(redisSecret, S("redis.passwordKey"), RedisDir + "password", "Redis__Security__PasswordFile"));
            if (m.Value("redis.tls.enabled") is true && S("redis.tls.existingSecret") is { Length: > 0 } redisTls)
            {
                files.Add(new(redisTls, S("redis.tls.caKey"), RedisDir + "ca.crt", "Redis__Security__CaFile"));
                if (S("redis.tls.certKey").Length > 0 && S("redis.tls.keyKey").Length > 0)
                {
                    files.Add(new(redisTls, S("redis.tls.certKey"), RedisDir + "client.crt", "Redis__Security__CertificateFile"));
                    files.Add(new(redisTls, S("redis.tls.keyKey"), RedisDir + "client.key", "Redis__Security__KeyFile"));
                }
            }
        }
        return files;
    }

    /// <summary>The files the pod <paramref name="what"/> should mount: the Kafka and Redis ones, and for the review
    /// console its users file.</summary>
    private static List<SecretFile> Expected(RenderedManifests m, string what)
    {
        var files = Expected(m);
        if (IsReview(m, what))
            files.Add(new((string)m.Value("review.users.existingSecret")!, (string)m.Value("review.users.key")!, ReviewDir + "review-users.json", "Review__UsersFile"));
        return files;
    }

    private static bool IsReview(RenderedManifests m, string what) =>
        m.All<V1Deployment>().Any(d => what == $"Deployment {d.Metadata.Name}" && d.Spec.Template.Metadata.Labels.Get("app.kubernetes.io/component") == "review");

    /// <summary>The worker Deployment's pod, the review console's and every Job's pod: each one talks to Kafka and Redis.</summary>
    private static List<(string What, V1PodSpec Pod, V1Container Container)> Pods(RenderedManifests m)
    {
        var pods = new List<(string, V1PodSpec, V1Container)>();
        foreach (var d in m.All<V1Deployment>()) pods.Add(($"Deployment {d.Metadata.Name}", d.Spec.Template.Spec, Assert.Single(d.Spec.Template.Spec.Containers)));
        foreach (var j in m.All<V1Job>()) pods.Add(($"Job {j.Metadata.Name}", j.Spec.Template.Spec, Assert.Single(j.Spec.Template.Spec.Containers)));
        Assert.NotEmpty(pods);
        return pods;
    }

    /// <summary>The container's ConfigMap environment as the kubelet builds it: every envFrom ConfigMap in order, a later
    /// one winning on the same key (the review console loads the workers' ConfigMap, then its own).</summary>
    private static IDictionary<string, string> Config(RenderedManifests m, V1Container container)
    {
        Assert.NotEmpty(container.EnvFrom);
        var merged = new Dictionary<string, string>();
        foreach (var from in container.EnvFrom)
            foreach (var (k, v) in m.All<V1ConfigMap>().Single(c => c.Metadata.Name == from.ConfigMapRef.Name).Data)
                merged[k] = v;
        return merged;
    }

    /// <summary>What the container would see on disk: (Secret, key) → file path, from the projected volumes it mounts.</summary>
    private static List<(string Secret, string Key, string Path)> MountedFiles(V1PodSpec pod, V1Container container, string what)
    {
        var files = new List<(string, string, string)>();
        foreach (var volume in pod.Volumes ?? [])
        {
            // Whole-Secret volumes would expose every key of the Secret: only projected items are allowed.
            Assert.True(volume.Secret is null, $"{what}: volume {volume.Name} mounts a whole Secret");
            if (volume.Projected?.Sources?.Any(s => s.Secret is not null) != true) continue;
            Assert.True(volume.Projected.DefaultMode == Convert.ToInt32("400", 8), $"{what}: volume {volume.Name} mode is not 0400");
            var mount = Assert.Single(container.VolumeMounts, vm => vm.Name == volume.Name);
            Assert.True(mount.ReadOnlyProperty, $"{what}: {volume.Name} is not mounted read-only");
            Assert.StartsWith(SecretsRoot, mount.MountPath + "/");
            foreach (var source in volume.Projected.Sources)
            {
                Assert.NotNull(source.Secret);
                Assert.False(string.IsNullOrEmpty(source.Secret.Name));
                Assert.NotEmpty(source.Secret.Items ?? []);   // without items every key of the Secret would appear
                Assert.NotEqual(true, source.Secret.Optional);
                foreach (var item in source.Secret.Items!)
                {
                    Assert.True(item.Mode is null || item.Mode == Convert.ToInt32("400", 8), $"{what}: {item.Path} mode");
                    files.Add((source.Secret.Name, item.Key, mount.MountPath.TrimEnd('/') + "/" + item.Path));
                }
            }
        }
        return files;
    }

    /// <summary>The container's environment as the kubelet builds it: the ConfigMap, then env (secretKeyRefs resolved by <paramref name="secret"/>).</summary>
    private static Dictionary<string, string> Environment(RenderedManifests m, V1Container container, Func<string, string, string> secret)
    {
        var env = new Dictionary<string, string>(Config(m, container));
        foreach (var e in container.Env ?? [])
            env[e.Name] = e.ValueFrom?.SecretKeyRef is { } r ? secret(r.Name, r.Key) : e.Value ?? "";
        return env;
    }

    [GeneratedRegex("(password|passwd|secret|token|credential|key|pem)", RegexOptions.IgnoreCase)]
    private static partial Regex SecretLikeName();

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Passwords_keys_and_tokens_never_reach_the_environment(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        foreach (var (what, _, container) in Pods(m))
        {
            Assert.All(container.EnvFrom, e => Assert.Null(e.SecretRef));
            // The one value taken from a Secret into the environment is the SASL username, a plain setting of the worker.
            foreach (var e in container.Env ?? [])
            {
                if (e.ValueFrom?.SecretKeyRef is not { } secretRef) continue;
                Assert.True(e.Name == "Kafka__Security__Username", $"{what}: env {e.Name} comes from Secret {secretRef.Name}");
                Assert.Equal(m.Value("kafka.security.sasl.existingSecret"), secretRef.Name);
                Assert.Equal(m.Value("kafka.security.sasl.usernameKey"), secretRef.Key);
            }
            foreach (var (name, value) in Environment(m, container, (s, k) => $"<{s}/{k}>"))
            {
                Assert.DoesNotContain("password=", value, StringComparison.OrdinalIgnoreCase);
                Assert.False(name is "REDIS_PASSWORD" || name.StartsWith("Kafka__Properties__sasl.password", StringComparison.Ordinal)
                    || name.StartsWith("Kafka__Properties__sasl.username", StringComparison.Ordinal) || name.Contains("client.secret", StringComparison.Ordinal)
                    || name.Contains("ssl.key.password", StringComparison.Ordinal) || name.Contains(".pem", StringComparison.Ordinal), $"{what}: env {name}");
                // A name that speaks of a secret may only carry the path of a mounted file.
                var last = name.Split("__")[^1];
                if (SecretLikeName().IsMatch(last))
                {
                    Assert.True(last.EndsWith("File", StringComparison.Ordinal) || last.EndsWith(".location", StringComparison.Ordinal), $"{what}: env {name}={value}");
                    Assert.StartsWith(SecretsRoot, value);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void The_referenced_secrets_are_mounted_read_only_0400_with_exactly_the_needed_keys_in_a_non_root_pod(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        foreach (var (what, pod, container) in Pods(m))
        {
            var expected = Expected(m, what).Select(f => (f.Secret, f.Key, f.Path)).Order().ToList();
            var mounted = MountedFiles(pod, container, what).Order().ToList();
            Assert.Equal(expected, mounted);
            if (mounted.Count == 0) continue;
            // Mode 0400 files belong to root; the kubelet makes them group-readable by the pod's fsGroup, which is
            // how the non-root worker (and no one else) reads them.
            Assert.True(pod.SecurityContext.RunAsNonRoot);
            Assert.NotEqual(0, pod.SecurityContext.RunAsUser ?? 0);
            Assert.NotNull(pod.SecurityContext.FsGroup);
            Assert.NotEqual(0, pod.SecurityContext.FsGroup);
        }
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void The_worker_settings_point_at_the_mounted_files(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        var expected = Expected(m);
        foreach (var (what, pod, container) in Pods(m))
        {
            var config = Config(m, container);
            var mounted = MountedFiles(pod, container, what).Select(f => f.Path).ToHashSet();
            var fileSettings = config.Where(kv => (kv.Key.StartsWith("Kafka__Security__", StringComparison.Ordinal) || kv.Key.StartsWith("Redis__Security__", StringComparison.Ordinal))
                                                  && kv.Key.EndsWith("File", StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key, kv => kv.Value);
            Assert.Equal(expected.ToDictionary(f => f.Setting, f => f.Path).OrderBy(kv => kv.Key), fileSettings.OrderBy(kv => kv.Key));
            if (IsReview(m, what))
            {
                // The console's users file is the mounted one; the workers have no such setting.
                Assert.Equal(ReviewDir + "review-users.json", config["Review__UsersFile"]);
                Assert.Contains(config["Review__UsersFile"], mounted);
            }
            else Assert.False(config.ContainsKey("Review__UsersFile"), $"{what}: Review__UsersFile");
            // librdkafka locations (for clients built from Kafka:Properties alone) name the same mounted files.
            foreach (var (key, path) in config.Where(kv => kv.Key.EndsWith(".location", StringComparison.Ordinal)))
                Assert.True(mounted.Contains(path), $"{what}: {key}={path} is not a mounted file");

            var protocol = (string)m.Value("kafka.security.protocol")!;
            Assert.Equal(protocol.ToLowerInvariant(), config["Kafka__Security__Protocol"]);
            var username = container.Env?.SingleOrDefault(e => e.Name == "Kafka__Security__Username");
            if (protocol.StartsWith("SASL_", StringComparison.Ordinal))
            {
                Assert.Equal(m.Value("kafka.security.sasl.mechanism"), config["Kafka__Security__SaslMechanism"]);
                Assert.NotNull(username);
            }
            else
            {
                Assert.False(config.ContainsKey("Kafka__Security__SaslMechanism"));
                Assert.Null(username);
            }
            bool redisTls = m.Value("redis.tls.enabled") is true && ((string)m.Value("redis.configuration")!).Length > 0;
            Assert.Equal(redisTls ? "true" : null, (config.TryGetValue("Redis__Security__Tls", out var tlsSetting) ? tlsSetting : null));
            Assert.Equal(m.Value("redis.configuration"), config["Redis__Configuration"]);
        }
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void The_worker_configured_as_the_pod_reads_every_secret_from_its_mounted_file(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        var root = Directory.CreateTempSubdirectory("chart-secrets-");
        try
        {
            using var key = RSA.Create(2048);
            var certificate = new CertificateRequest("CN=test-ca", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
                .CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            // Fake Secrets: PEM where a certificate or key is projected, a distinct text otherwise.
            var fileNames = Expected(m).ToDictionary(f => (f.Secret, f.Key), f => Path.GetFileName(f.Path));
            string Value(string secret, string k) => (fileNames.TryGetValue((secret, k), out var fileName) ? fileName : null) switch
            {
                "ca.crt" or "client.crt" => certificate.ExportCertificatePem(),
                "client.key" => key.ExportPkcs8PrivateKeyPem(),
                _ => $"{secret}:{k}:s3cr3t",
            };
            foreach (var (what, pod, container) in Pods(m))
            {
                // The kubelet's part: write each projected item (with the trailing newline kubectl --from-file often keeps).
                var local = Path.Combine(root.FullName, Guid.NewGuid().ToString("N"));
                string Local(string path) => path.StartsWith(SecretsRoot, StringComparison.Ordinal) ? Path.Combine(local, path[SecretsRoot.Length..]) : path;
                foreach (var (secret, k, path) in MountedFiles(pod, container, what))
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(Local(path))!);
                    File.WriteAllText(Local(path), Value(secret, k) + "\n");
                }
                var env = Environment(m, container, Value);
                foreach (var f in Expected(m).Where(f => !f.Path.EndsWith(".crt", StringComparison.Ordinal) && !f.Path.EndsWith(".key", StringComparison.Ordinal)))
                    Assert.DoesNotContain(env, kv => kv.Value.Contains(Value(f.Secret, f.Key), StringComparison.Ordinal));

                var configuration = new ConfigurationBuilder()
                    .AddInMemoryCollection(env.Select(kv => KeyValuePair.Create(kv.Key.Replace("__", ":", StringComparison.Ordinal), (string?)Local(kv.Value))))
                    .Build();
                var kafka = configuration.GetSection("Kafka").Get<KafkaOptions>()!;
                var properties = KafkaSecurity.Properties(kafka);
                var protocol = ((string)m.Value("kafka.security.protocol")!).ToLowerInvariant();
                Assert.Equal(protocol, properties["security.protocol"]);
                string? SecretOf(string setting) => Expected(m).SingleOrDefault(f => f.Setting == setting) is { } f ? Value(f.Secret, f.Key) : null;
                Assert.Equal(SecretOf("Kafka__Security__PasswordFile"), properties.GetValueOrDefault("sasl.password"));
                Assert.Equal(SecretOf("Kafka__Security__KeyPasswordFile"), properties.GetValueOrDefault("ssl.key.password"));
                if (protocol.StartsWith("sasl", StringComparison.Ordinal))
                    Assert.Equal(Value((string)m.Value("kafka.security.sasl.existingSecret")!, (string)m.Value("kafka.security.sasl.usernameKey")!), properties["sasl.username"]);
                if (SecretOf("Kafka__Security__CaFile") is { } ca)
                    Assert.Equal(ca + "\n", File.ReadAllText(properties["ssl.ca.location"]));
                if (SecretOf("Kafka__Security__KeyFile") is { } clientKey)
                    Assert.Equal(clientKey + "\n", File.ReadAllText(properties["ssl.key.location"]));

                var redis = configuration.GetSection("Redis").Get<RedisOptions>() ?? new RedisOptions();
                if (string.IsNullOrEmpty(redis.Configuration)) continue;
                var options = RedisConnector.CreateOptions(redis.Configuration, redis.Security);
                Assert.Equal(SecretOf("Redis__Security__PasswordFile"), options.Password);
                Assert.Equal(m.Value("redis.user") is string { Length: > 0 } user ? user : null, options.User);
                Assert.Equal(m.Value("redis.tls.enabled") is true, options.Ssl);
            }
            // Not trivially true: the fixture exercises every file setting.
            if (scenario == "all-credentials") Assert.Equal(9, Expected(m).Count);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    [Theory]
    [MemberData(nameof(ReplayScenarios))]
    public void The_replay_job_mounts_the_same_credentials_and_environment_as_the_workers(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        var pods = Pods(m);
        var worker = Assert.Single(pods, p => p.What.StartsWith("Deployment", StringComparison.Ordinal));
        var job = Assert.Single(pods, p => p.What.StartsWith("Job", StringComparison.Ordinal));
        var workerFiles = MountedFiles(worker.Pod, worker.Container, worker.What).Order().ToList();
        Assert.NotEmpty(workerFiles);
        Assert.Equal(workerFiles, MountedFiles(job.Pod, job.Container, job.What).Order().ToList());
        Assert.Equal(worker.Container.EnvFrom.Single().ConfigMapRef.Name, job.Container.EnvFrom.Single().ConfigMapRef.Name);
        // The same credentials and environment, except the workers' static-membership id (their pod name): a replay
        // consumes in its own group and must not take a worker's identity.
        Assert.Equal(
            (worker.Container.Env ?? []).Where(e => e.Name != "Kafka__GroupInstanceId").Select(e => (e.Name, e.Value, e.ValueFrom?.SecretKeyRef?.Name, e.ValueFrom?.SecretKeyRef?.Key)),
            (job.Container.Env ?? []).Select(e => (e.Name, e.Value, e.ValueFrom?.SecretKeyRef?.Name, e.ValueFrom?.SecretKeyRef?.Key)));
        Assert.DoesNotContain(job.Container.Env ?? [], e => e.Name == "Kafka__GroupInstanceId");
        Assert.Equal("Never", job.Pod.RestartPolicy);
    }

    [Fact]
    public void The_keda_scaler_gets_the_same_secrets_including_the_key_password()
    {
        var m = RenderedManifests.For("all-credentials");
        var auth = Assert.Single(m.Custom("TriggerAuthentication"));
        var refs = ((IList<object?>)((IDictionary<string, object?>)auth.Plain["spec"]!)["secretTargetRef"]!)
            .Cast<IDictionary<string, object?>>().Select(r => ((string)r["parameter"]!, (string)r["name"]!, (string)r["key"]!)).Order().ToList();
        Assert.Equal(
            [("ca", "kafka-mtls", "ca.pem"), ("cert", "kafka-mtls", "tls.crt"), ("key", "kafka-mtls", "tls.key"), ("keyPassword", "kafka-mtls", "tls.key.pass"),
             ("password", "kafka-sasl", "pass"), ("username", "kafka-sasl", "user")],
            refs);
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Every_scenario_satisfies_the_schema(string scenario)
    {
        var values = scenario == RenderedManifests.Default
            ? new ChartRenderer(RepoPaths.Chart).DefaultValues()
            : new ChartRenderer(RepoPaths.Chart).Values(RenderedManifests.OverrideYamls(scenario));
        Assert.True(ChartValuesSchemaTests.Evaluate(values).IsValid, scenario);
    }

    [Fact]
    public void A_sasl_protocol_without_a_credentials_secret_does_not_render()
    {
        // The schema refuses it too; this is for `helm template --skip-schema-validation` and the like.
        var chart = new ChartRenderer(RepoPaths.Chart);
        var e = Assert.Throws<TemplateException>(() => chart.Render(chart.Values("kafka: { security: { protocol: SASL_SSL } }")));
        Assert.Contains("kafka.security.sasl.existingSecret is required", e.Message);
    }
}
