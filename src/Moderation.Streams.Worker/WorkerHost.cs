using Moderation.Streams.Redis.Banks;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media;
using Moderation.Streams.Worker.Logging;

namespace Moderation.Streams.Worker;

/// <summary>
/// Builds the worker's host (ASP.NET Core, for <c>/metrics</c>, <c>/healthz</c> and <c>/readyz</c> on
/// <c>Telemetry:Port</c>). Configuration, later sources winning: appsettings.json, environment
/// (<c>Kafka__BootstrapServers</c>…), then <paramref name="overrides"/> (command-line flags).
/// </summary>
public static class WorkerHost
{
    /// <param name="defaultTelemetryPort">Port of the telemetry endpoints when <c>Telemetry:Port</c> is not configured:
    /// the <c>worker</c> verb passes 9464; embedded hosts (demo, tests) default to 0, a free port.</param>
    /// <summary>The <c>worker</c> verb's defaults under every configuration source. Static membership: a worker restarted on
    /// the same host (a container restarted in its pod keeps the pod name) rejoins as the same member and gets its
    /// partitions back without a rebalance. Several workers on one host need a <c>Kafka:GroupInstanceId</c> each; an
    /// empty one means dynamic membership.</summary>
    public static IReadOnlyDictionary<string, string?> WorkerDefaults { get; } =
        new Dictionary<string, string?> { ["Kafka:GroupInstanceId"] = Environment.MachineName };

    /// <param name="defaults">Settings under every source (appsettings.json, environment, <paramref name="overrides"/>).</param>
    public static IHost Build(IReadOnlyDictionary<string, string?> overrides, Action<ILoggingBuilder>? logging = null, int defaultTelemetryPort = 0,
        IReadOnlyDictionary<string, string?>? defaults = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [],
            ContentRootPath = AppContext.BaseDirectory,
        });
        if (defaults is not null) builder.Configuration.AddInMemoryCollection(defaults);
        builder.Configuration.AddJsonFile("appsettings.json", optional: true);
        builder.Configuration.AddEnvironmentVariables();
        builder.Configuration.AddInMemoryCollection(overrides);
        WorkerTelemetry.Add(builder, defaultTelemetryPort);
        if (logging is not null)
        {
            builder.Logging.ClearProviders();
            logging(builder.Logging);
        }
        else
        {
            // Messages quote uploads: the safe formatter escapes what could forge a line (Logging/SafeConsoleFormatter.cs).
            builder.Logging.ClearProviders();
            builder.Logging.AddSafeConsole(o => o.TimestampFormat = "HH:mm:ss.fff ");
            // "Hosting failed to start" with a stack trace: the worker verb says why in one line itself.
            builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        }

        ScreeningSettings.Register(builder.Services);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(60));
        builder.Services.AddSingleton<ScreeningStats>();
        builder.Services.AddSingleton<ScreeningService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ScreeningService>());
        var app = builder.Build();
        WorkerTelemetry.MapEndpoints(app);
        return app;
    }
}
