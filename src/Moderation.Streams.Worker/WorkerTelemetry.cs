using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Exporter;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Moderation.Streams.Worker;

/// <summary>Telemetry settings (configuration section <c>Telemetry</c>).</summary>
public sealed class TelemetryOptions
{
    /// <summary>Port of <c>/metrics</c>, <c>/healthz</c> and <c>/readyz</c> (<c>--telemetry-port</c>); 0 picks a free port,
    /// -1 serves none. The <c>worker</c> verb defaults to 9464; a host embedded in another process to 0.</summary>
    public int? Port { get; set; }

    public const int DefaultPort = 9464;

    /// <summary>Address the endpoints bind to.</summary>
    public string BindAddress { get; set; } = "0.0.0.0";

    /// <summary>OTLP endpoint for traces, metrics and logs (or the standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>); none = no OTLP export.</summary>
    public string? OtlpEndpoint { get; set; }

    public string ServiceName { get; set; } = "moderation-worker";
}

/// <summary>
/// OpenTelemetry for the worker: traces of the screening pipeline, metrics of every component (Prometheus
/// scrape endpoint and OTLP), logs over OTLP; plus liveness and readiness endpoints.
/// </summary>
public static class WorkerTelemetry
{
    /// <summary>Every meter the worker exports.</summary>
    public static readonly string[] Meters =
    [
        ScreeningStats.MeterName, Kafka.KafkaTelemetry.MeterName, Redis.RedisCacheTelemetry.MeterName,
        Inference.InferenceTelemetry.MeterName,
    ];

    public static void Add(WebApplicationBuilder builder, int defaultPort)
    {
        var options = builder.Configuration.GetSection("Telemetry").Get<TelemetryOptions>() ?? new TelemetryOptions();
        int port = options.Port ?? defaultPort;
        var otlp = options.OtlpEndpoint ?? builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(options.ServiceName))
            .WithTracing(t =>
            {
                t.AddSource(ScreeningPipeline.ActivitySourceName, Inference.InferenceTelemetry.ActivitySourceName);
                if (otlp is { Length: > 0 }) t.AddOtlpExporter(o => o.Endpoint = new Uri(otlp));
            })
            .WithMetrics(m =>
            {
                m.AddMeter(Meters);
                m.AddPrometheusExporter();
                if (otlp is { Length: > 0 }) m.AddOtlpExporter(o => o.Endpoint = new Uri(otlp));
            });
        if (otlp is { Length: > 0 })
            telemetry.WithLogging(l => l.AddOtlpExporter(o => o.Endpoint = new Uri(otlp)));

        if (port < 0)
        {
            builder.WebHost.UseSetting(WebHostDefaults.ServerUrlsKey, "");
            builder.Services.AddSingleton<IServer, NoServer>();
        }
        else
        {
            builder.WebHost.UseUrls($"http://{(options.BindAddress == "0.0.0.0" ? "*" : options.BindAddress)}:{port}");
        }
    }

    public static void MapEndpoints(WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapGet("/healthz", (ScreeningService service) =>
            service.Failed is { } failure
                ? Results.Json(new { status = "failed", error = failure.Message }, statusCode: 500)
                : Results.Json(new { status = "alive" }));
        app.MapGet("/readyz", (ScreeningService service) =>
        {
            var health = service.Health();
            return Results.Json(health, JsonOptions, statusCode: health.Ready ? 200 : 503);
        });
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The address the endpoints listen on (after start; null when none).</summary>
    public static Uri? ListeningOn(IHost host)
    {
        var addresses = host.Services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses;
        var first = addresses?.FirstOrDefault();
        return first is null ? null : new Uri(first.Replace("://[::]", "://127.0.0.1").Replace("://0.0.0.0", "://127.0.0.1").Replace("://+", "://127.0.0.1").Replace("://*", "://127.0.0.1"));
    }

    /// <summary>A server that serves nothing, for <c>Telemetry:Port = -1</c>.</summary>
    private sealed class NoServer : IServer
    {
        public Microsoft.AspNetCore.Http.Features.IFeatureCollection Features { get; } = new Microsoft.AspNetCore.Http.Features.FeatureCollection();
        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken) where TContext : notnull => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public void Dispose() { }
    }
}

/// <summary>What <c>/readyz</c> reports.</summary>
public sealed record WorkerHealth(bool Ready, string Status, string? Model, string? Device, string? DeviceNote, string Kafka, string Redis, int AssignedPartitions, int InFlight);
