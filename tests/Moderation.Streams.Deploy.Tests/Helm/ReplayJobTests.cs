using k8s.Models;

namespace Moderation.Streams.Deploy.Tests.Helm;

/// <summary>The replay Job (templates/replay-job.yaml) as examples/replay.yaml renders it.</summary>
public sealed class ReplayJobTests
{
    [Fact]
    public void The_replay_job_runs_moderation_replay_with_the_workers_settings_and_its_candidate_policy_and_never_restarts_in_place()
    {
        var m = RenderedManifests.For("replay.yaml");
        var job = Assert.Single(m.All<V1Job>());
        var pod = job.Spec.Template.Spec;
        var container = Assert.Single(pod.Containers);

        Assert.Equal("Never", pod.RestartPolicy);
        Assert.Equal("replay", job.Spec.Template.Metadata.Labels["app.kubernetes.io/component"]);
        Assert.Equal(
            ["replay", "--name", "stricter-2026-12-01", "--from", "2026-11-30T00:00:00Z", "--to", "2026-12-01T00:00:00Z", "--progress", "lines",
             "--rate", "200", "--policy", "/etc/moderation/replay-policy/policy.json", "--compare", "--report", "/tmp/replay-stricter-2026-12-01"],
            container.Args);
        Assert.Contains(container.EnvFrom, e => e.ConfigMapRef?.Name == "mod-moderation-streams-env");
        var policy = Assert.Single(m.All<V1ConfigMap>(), c => c.Metadata.Name == job.Metadata.Name + "-policy");
        Assert.Contains("\"2026-12-01.1\"", policy.Data["policy.json"]);
        Assert.Contains(pod.Volumes, v => v.Name == "replay-policy" && v.ConfigMap.Name == policy.Metadata.Name);
        Assert.True(container.SecurityContext.ReadOnlyRootFilesystem);
    }

    [Fact]
    public void By_default_no_replay_job_is_rendered()
    {
        Assert.Empty(RenderedManifests.For(RenderedManifests.Default).All<V1Job>());
    }
}
