using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Moderation.Streams.Worker.Tests;

public class WorkerHealthChecksTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Liveness_and_readiness_are_health_checks_told_apart_by_their_tags()
    {
        using var host = WorkerHost.Build(new Dictionary<string, string?> { ["Telemetry:Port"] = "-1" });
        var checks = host.Services.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value.Registrations;
        Assert.Equal(["screening-loop"], checks.Where(c => c.Tags.Contains(WorkerHealthChecks.LiveTag)).Select(c => c.Name));
        Assert.Equal(["screening-ready"], checks.Where(c => c.Tags.Contains(WorkerHealthChecks.ReadyTag)).Select(c => c.Name));
        Assert.All(checks, c => Assert.NotEmpty(c.Tags)); // an untagged check would be on neither endpoint
    }

    [Fact]
    public async Task A_worker_that_has_not_started_screening_is_alive_but_not_ready()
    {
        using var host = WorkerHost.Build(new Dictionary<string, string?> { ["Telemetry:Port"] = "-1" });
        var health = host.Services.GetRequiredService<HealthCheckService>();

        var live = await health.CheckHealthAsync(c => c.Tags.Contains(WorkerHealthChecks.LiveTag), Ct);
        Assert.Equal(HealthStatus.Healthy, live.Status);

        var ready = await health.CheckHealthAsync(c => c.Tags.Contains(WorkerHealthChecks.ReadyTag), Ct);
        Assert.Equal(HealthStatus.Unhealthy, ready.Status);
        var detail = Assert.IsType<WorkerHealth>(Assert.Single(ready.Entries).Value.Data[WorkerHealthChecks.WorkerHealthKey]);
        Assert.False(detail.Ready);
        Assert.Equal("not ready", detail.Status);
        Assert.Equal("starting", detail.Kafka);
    }
}
