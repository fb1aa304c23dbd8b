using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;

namespace Moderation.Streams.Worker;

/// <summary>
/// Liveness and readiness as ASP.NET Core health checks, told apart by tag. <c>/healthz</c> runs the checks tagged
/// <see cref="LiveTag"/>: the screening loop has not crashed (200 <c>{"status":"alive"}</c>, else 500 with the error:
/// restart the worker). <c>/readyz</c> runs those tagged <see cref="ReadyTag"/>: model loaded, consumer started and
/// its brokers reachable (200, else 503), with the <see cref="WorkerHealth"/> detail as the body.
/// </summary>
public static class WorkerHealthChecks
{
    public const string LiveTag = "live";
    public const string ReadyTag = "ready";
    public const string LivenessPath = "/healthz";
    public const string ReadinessPath = "/readyz";

    /// <summary>Key of the <see cref="WorkerHealth"/> in the readiness check's data.</summary>
    public const string WorkerHealthKey = "worker";

    internal static void Add(WebApplicationBuilder builder)
    {
        builder.Services.AddHealthChecks()
            .AddCheck<ScreeningLoopHealthCheck>("screening-loop", tags: [LiveTag])
            .AddCheck<ScreeningReadinessHealthCheck>("screening-ready", tags: [ReadyTag]);
        // The health service logs every unhealthy result as an error: a probe of a worker still loading its model
        // would fill the log. The endpoints answer for themselves, and the worker logs its own failures.
        builder.Logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.Critical);
    }

    internal static void Map(IEndpointRouteBuilder app)
    {
        app.MapHealthChecks(LivenessPath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(LiveTag),
            ResultStatusCodes = { [HealthStatus.Unhealthy] = StatusCodes.Status500InternalServerError },
            ResponseWriter = WriteLivenessAsync,
        });
        app.MapHealthChecks(ReadinessPath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadyTag),
            ResponseWriter = WriteReadinessAsync,
        });
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private static Task WriteLivenessAsync(HttpContext context, HealthReport report)
    {
        var failed = report.Entries.Values.Where(e => e.Status == HealthStatus.Unhealthy).ToList();
        return failed.Count == 0
            ? context.Response.WriteAsJsonAsync(new { status = "alive" }, JsonOptions, context.RequestAborted)
            : context.Response.WriteAsJsonAsync(new { status = "failed", error = failed[0].Exception?.Message ?? failed[0].Description },
                JsonOptions, context.RequestAborted);
    }

    private static Task WriteReadinessAsync(HttpContext context, HealthReport report)
    {
        var health = report.Entries.Values.Select(e => e.Data.GetValueOrDefault(WorkerHealthKey)).OfType<WorkerHealth>().FirstOrDefault();
        return health is not null
            ? context.Response.WriteAsJsonAsync(health, JsonOptions, context.RequestAborted)
            : context.Response.WriteAsJsonAsync(new { ready = report.Status != HealthStatus.Unhealthy, status = report.Status.ToString() },
                JsonOptions, context.RequestAborted);
    }
}

/// <summary>Liveness: the screening loop is running or starting, not crashed.</summary>
internal sealed class ScreeningLoopHealthCheck(ScreeningService service) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(service.Failed is { } failure
            ? HealthCheckResult.Unhealthy(failure.Message, failure)
            : HealthCheckResult.Healthy("alive"));
}

/// <summary>Readiness: <see cref="ScreeningService.Health"/> (model loaded, consumer started, brokers reachable; Redis state reported).</summary>
internal sealed class ScreeningReadinessHealthCheck(ScreeningService service) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var health = service.Health();
        var data = new Dictionary<string, object> { [WorkerHealthChecks.WorkerHealthKey] = health };
        return Task.FromResult(health.Ready
            ? HealthCheckResult.Healthy(health.Status, data)
            : HealthCheckResult.Unhealthy(health.Status, data: data));
    }
}
