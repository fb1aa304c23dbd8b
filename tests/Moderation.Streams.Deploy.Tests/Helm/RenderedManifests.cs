using k8s;
using k8s.Models;
using YamlDotNet.RepresentationModel;

namespace Moderation.Streams.Deploy.Tests.Helm;

/// <summary>
/// The chart rendered for one scenario (values.yaml plus an override file), its documents parsed as YAML and,
/// for the built-in kinds, deserialized strictly into the Kubernetes client's typed models: an unknown or
/// misspelt field, a wrong type or a list where a map belongs fails. Custom resources (KEDA, prometheus-operator)
/// are kept as plain values and checked by the tests field by field.
/// </summary>
public sealed class RenderedManifests
{
    private static readonly Dictionary<(string ApiVersion, string Kind), Type> BuiltIn = new()
    {
        [("v1", "ConfigMap")] = typeof(V1ConfigMap),
        [("v1", "Secret")] = typeof(V1Secret),
        [("v1", "Service")] = typeof(V1Service),
        [("v1", "ServiceAccount")] = typeof(V1ServiceAccount),
        [("apps/v1", "Deployment")] = typeof(V1Deployment),
        [("batch/v1", "Job")] = typeof(V1Job),
        [("batch/v1", "CronJob")] = typeof(V1CronJob),
        [("policy/v1", "PodDisruptionBudget")] = typeof(V1PodDisruptionBudget),
        [("autoscaling/v2", "HorizontalPodAutoscaler")] = typeof(V2HorizontalPodAutoscaler),
    };

    public static readonly HashSet<(string ApiVersion, string Kind)> CustomResources =
    [
        ("keda.sh/v1alpha1", "ScaledObject"),
        ("keda.sh/v1alpha1", "TriggerAuthentication"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("monitoring.coreos.com/v1", "PrometheusRule"),
    ];

    public string Scenario { get; }
    public SortedDictionary<string, object?> Values { get; }
    public SortedDictionary<string, string> Rendered { get; }
    public List<Manifest> Objects { get; } = [];

    public sealed record Manifest(string Source, string ApiVersion, string Kind, string Name, object Typed, SortedDictionary<string, object?> Plain);

    private RenderedManifests(string scenario)
    {
        Scenario = scenario;
        var chart = new ChartRenderer(RepoPaths.Chart);
        Values = scenario == Default ? chart.DefaultValues() : chart.Values(OverrideYamls(scenario));
        Rendered = chart.Render(Values);
        foreach (var (source, yaml) in ChartRenderer.Documents(Rendered))
        {
            var stream = new YamlStream();
            try { stream.Load(new StringReader(yaml)); }
            catch (YamlDotNet.Core.YamlException e) { throw new InvalidDataException($"{scenario}: {source} is not valid YAML: {e.Message}\n{yaml}", e); }
            var plain = (SortedDictionary<string, object?>)YamlValues.FromNode(stream.Documents[0].RootNode)!;
            var apiVersion = plain.Get("apiVersion") as string ?? throw new InvalidDataException($"{scenario}: {source}: no apiVersion");
            var kind = plain.Get("kind") as string ?? throw new InvalidDataException($"{scenario}: {source}: no kind");
            var name = (plain.Get("metadata") as IDictionary<string, object?>)?.Get("name") as string
                       ?? throw new InvalidDataException($"{scenario}: {source}: {kind} without metadata.name");
            object typed = plain;
            if (BuiltIn.TryGetValue((apiVersion, kind), out var type))
            {
                try { typed = Deserialize(type, yaml); }
                catch (YamlDotNet.Core.YamlException e) { throw new InvalidDataException($"{scenario}: {source}: {kind} {name} is not a valid {type.Name}: {e.Message} {e.InnerException?.Message}", e); }
            }
            else if (!CustomResources.Contains((apiVersion, kind)))
                throw new InvalidDataException($"{scenario}: {source}: {apiVersion} {kind} is neither a known built-in kind nor an expected custom resource");
            Objects.Add(new Manifest(source, apiVersion, kind, name, typed, plain));
        }
    }

    private static object Deserialize(Type type, string yaml) =>
        typeof(KubernetesYaml).GetMethod(nameof(KubernetesYaml.Deserialize), [typeof(string), typeof(bool)])!
            .MakeGenericMethod(type).Invoke(null, [yaml, true])!;

    public const string Default = "values.yaml";

    /// <summary>Override files of a scenario: example file names or <see cref="Fixtures"/> keys, joined by "+" and
    /// applied in order over values.yaml (like repeated -f).</summary>
    public static string[] OverrideYamls(string scenario) =>
        scenario.Split('+').Select(part => Fixtures.TryGetValue(part, out var yaml) ? yaml : File.ReadAllText(Path.Combine(RepoPaths.Chart, "examples", part))).ToArray();

    /// <summary>Test-only overrides for what no example shows.</summary>
    public static readonly IReadOnlyDictionary<string, string> Fixtures = new Dictionary<string, string>
    {
        // Every credential the chart can mount, with non-default key names: SASL + mutual TLS with an encrypted
        // key to Kafka, an ACL user with a password and mutual TLS to Redis, KEDA, and a replay Job.
        ["all-credentials"] = """
            kafka:
              security:
                protocol: SASL_SSL
                sasl: { mechanism: SCRAM-SHA-256, existingSecret: kafka-sasl, usernameKey: user, passwordKey: pass }
                tls: { existingSecret: kafka-mtls, caKey: ca.pem, certKey: tls.crt, keyKey: tls.key, keyPasswordKey: tls.key.pass }
            redis:
              configuration: "redis.cache:6380"
              user: moderation
              existingSecret: redis-auth
              passwordKey: pw
              tls: { enabled: true, host: redis.internal, existingSecret: redis-mtls, caKey: ca.pem, certKey: tls.crt, keyKey: tls.key }
            autoscaling: { enabled: true, mode: keda }
            replay: { enabled: true, name: all-credentials }
            """,
        // Alert rules for a release whose group and uploads topic are not the compose stack's.
        ["prometheus-rule"] = """
            kafka:
              groupId: screeners
              topics: { uploads: media-uploads }
            prometheusRule: { enabled: true }
            """,
        // Two versions of an inline policy (a hot reload, not a rollout).
        ["policy-a"] = """
            policy:
              json: '{ "version": "a", "takedown": { "porn": 0.9 }, "review": { "porn": 0.6 } }'
            """,
        ["policy-b"] = """
            policy:
              json: '{ "version": "b", "takedown": { "porn": 0.8, "hentai": 0.9 }, "review": { "porn": 0.5 } }'
            """,
        // The review console with non-default names and ports, scraped and alerted on like the workers.
        ["review"] = """
            review:
              enabled: true
              replicas: 2
              port: 8081
              telemetryPort: 9475
              groupId: reviewers
              claimTtl: "00:20:00"
              users: { existingSecret: review-logins, key: users.json }
              service: { port: 80, annotations: { example.com/team: trust-and-safety } }
              extraEnv: [{ name: Review__Oidc__RoleClaim, value: groups }]
            serviceMonitor: { enabled: true, labels: { release: kube-prometheus-stack } }
            prometheusRule: { enabled: true }
            """,
        // TLS only (a client certificate, no SASL): no username, nothing from a secretKeyRef.
        ["kafka-mtls-only"] = """
            kafka:
              security:
                protocol: SSL
                tls: { existingSecret: kafka-mtls, certKey: tls.crt, keyKey: tls.key }
            replay: { enabled: true, name: mtls }
            """,
    };

    private static readonly Dictionary<string, RenderedManifests> Cache = [];

    public static RenderedManifests For(string scenario)
    {
        lock (Cache)
        {
            if (!Cache.TryGetValue(scenario, out var m)) Cache[scenario] = m = new RenderedManifests(scenario);
            return m;
        }
    }

    public static TheoryData<string> Scenarios() =>
        new(new[] { Default }.Concat(Directory.EnumerateFiles(Path.Combine(RepoPaths.Chart, "examples"), "*.yaml").Select(f => Path.GetFileName(f)).Order()));

    public IEnumerable<T> All<T>() => Objects.Select(o => o.Typed).OfType<T>();
    public T One<T>() => Assert.Single(All<T>());
    public IEnumerable<Manifest> Custom(string kind) => Objects.Where(o => o.Kind == kind && o.Typed is SortedDictionary<string, object?>);

    public object? Value(string dottedPath) =>
        dottedPath.Split('.').Aggregate((object?)Values, (v, k) => (v as IDictionary<string, object?>)?.Get(k));
}
