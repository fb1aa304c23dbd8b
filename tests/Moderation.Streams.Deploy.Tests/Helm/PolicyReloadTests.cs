using k8s.Models;

namespace Moderation.Streams.Deploy.Tests.Helm;

/// <summary>
/// A policy change reaches running workers without a restart: the policy lives in its own ConfigMap that no pod
/// template checksum covers, mounted as a directory (kubelet updates a subPath mount never), at the path the worker's
/// PolicyWatcher watches (Screening__PolicyFile).
/// </summary>
public sealed class PolicyReloadTests
{
    private static V1Deployment Worker(RenderedManifests m) =>
        Assert.Single(m.All<V1Deployment>(), d => d.Spec.Template.Metadata.Labels.Get("app.kubernetes.io/component") == "worker");

    [Fact]
    public void Changing_the_policy_changes_its_configmap_but_not_the_worker_pod_template()
    {
        var a = RenderedManifests.For("policy-a");
        var b = RenderedManifests.For("policy-b");
        static string Policy(RenderedManifests m) => Assert.Single(m.All<V1ConfigMap>(), c => c.Metadata.Name.EndsWith("-policy", StringComparison.Ordinal)).Data["policy.json"];
        Assert.NotEqual(Policy(a), Policy(b));
        Assert.Contains("\"version\": \"b\"", Policy(b));
        // The whole pod template (annotations included) is the same: no rollout, the workers reload the file.
        Assert.Equal(k8s.KubernetesJson.Serialize(Worker(a).Spec.Template), k8s.KubernetesJson.Serialize(Worker(b).Spec.Template));
    }

    [Fact]
    public void A_configuration_change_still_rolls_the_workers()
    {
        var a = RenderedManifests.For("policy-a");
        var other = new ChartRenderer(RepoPaths.Chart);
        var values = other.Values(RenderedManifests.OverrideYamls("policy-a").Append("screening: { maxBatchSize: 32 }").ToArray());
        var rendered = ChartRenderer.Documents(other.Render(values)).Single(d => d.Source == "templates/deployment.yaml").Yaml;
        var checksum = Worker(a).Spec.Template.Metadata.Annotations["checksum/config"];
        Assert.DoesNotContain(checksum, rendered);
    }

    [Theory]
    [InlineData("policy-a")]
    [InlineData("gpu-keda-sasl.yaml")]
    public void The_policy_is_mounted_as_a_directory_at_the_watched_path(string scenario)
    {
        var m = RenderedManifests.For(scenario);
        var pod = Worker(m).Spec.Template.Spec;
        var container = Assert.Single(pod.Containers);
        var mount = Assert.Single(container.VolumeMounts, v => v.Name == "policy");
        Assert.Null(mount.SubPath);
        Assert.True(mount.ReadOnlyProperty);
        var env = m.All<V1ConfigMap>().Single(c => c.Metadata.Name == container.EnvFrom[0].ConfigMapRef.Name).Data;
        Assert.Equal(mount.MountPath.TrimEnd('/') + "/policy.json", env["Screening__PolicyFile"]);
        Assert.NotNull(Assert.Single(pod.Volumes, v => v.Name == "policy").ConfigMap);
    }
}
