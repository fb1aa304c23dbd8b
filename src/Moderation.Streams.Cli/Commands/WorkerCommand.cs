using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Moderation.Streams.Worker;

namespace Moderation.Streams.Cli.Commands;

internal static class WorkerCommand
{
    public static Command Create()
    {
        var kafka = CommonOptions.Kafka();
        var redis = CommonOptions.Redis();
        var mediaRoot = new Option<DirectoryInfo?>("--media-root") { Description = "Directory that file: URLs may read from (config Media:Root)" };
        var policy = new Option<FileInfo?>("--policy") { Description = "Policy JSON file (config Screening:PolicyFile); default: the built-in policy" };
        var group = new Option<string?>("--group") { Description = "Consumer group (config Kafka:GroupId, default moderation-workers)" };
        var model = CommonOptions.WorkerModel();
        var telemetryPort = new Option<int?>("--telemetry-port")
        {
            Description = "Port of /metrics, /healthz and /readyz (config Telemetry:Port, default 9464; 0 = any free port, -1 = none); " +
                          "they listen on Telemetry:BindAddress (default 0.0.0.0, every interface; 127.0.0.1 = this host only)",
        };

        var command = new Command("worker", "Runs the screening service: consumes uploads, decides, publishes decisions. " +
            "Configuration from appsettings.json, environment (Kafka__BootstrapServers, …) and these flags; SIGTERM drains and commits. " +
            "Joins the group as a static member named after the host (Kafka:GroupInstanceId; set one per worker when several share a host).")
        {
            kafka, redis, mediaRoot, policy, group, model, telemetryPort,
        };
        command.SetAction(async (parse, ct) =>
        {
            var overrides = new Dictionary<string, string?>();
            void Set(string key, string? value)
            {
                if (!string.IsNullOrEmpty(value)) overrides[key] = value;
            }
            Set("Kafka:BootstrapServers", parse.GetValue(kafka));
            Set("Redis:Configuration", parse.GetValue(redis));
            Set("Media:Root", parse.GetValue(mediaRoot)?.FullName);
            Set("Screening:PolicyFile", parse.GetValue(policy)?.FullName);
            Set("Kafka:GroupId", parse.GetValue(group));
            Set("Screening:Model", parse.GetValue(model));
            Set("Telemetry:Port", parse.GetValue(telemetryPort)?.ToString());
            using var host = WorkerHost.Build(overrides, defaultTelemetryPort: Worker.TelemetryOptions.DefaultPort, defaults: WorkerHost.WorkerDefaults);
            try
            {
                await host.StartAsync(CancellationToken.None);
                if (Worker.WorkerTelemetry.ListeningOn(host) is { } telemetry)
                    Console.WriteLine($"telemetry={telemetry.ToString().TrimEnd('/')} (/metrics, /healthz, /readyz)");
                await host.WaitForShutdownAsync(CancellationToken.None);
            }
            catch (Microsoft.Extensions.Options.OptionsValidationException e)
            {
                Console.Error.WriteLine($"moderation worker: invalid configuration: {e.Message}");
                return ExitCodes.Usage;
            }
            catch (IOException e)
            {
                // Kestrel could not bind the telemetry port (in use, or not ours to take).
                Console.Error.WriteLine($"moderation worker: {StartupErrors.OneLine(e)} (--telemetry-port, Telemetry:Port)");
                // The screening service may have started: stop it in order before the host is disposed.
                await host.StopAsync(CancellationToken.None);
                return ExitCodes.Failure;
            }
            // The service logged why in one line; a bad model name, policy file or setting is bad usage, like classify's.
            if (host.Services.GetRequiredService<ScreeningService>().Failed is { } failed)
                return StartupErrors.IsConfiguration(failed) ? ExitCodes.Usage : ExitCodes.Failure;
            return Environment.ExitCode == 0 ? ExitCodes.Ok : ExitCodes.Failure;
        });
        return command;
    }
}
