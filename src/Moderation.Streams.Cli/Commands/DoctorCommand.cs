using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Moderation.Streams.Worker;

namespace Moderation.Streams.Cli.Commands;

/// <summary><c>moderation doctor</c>: checks what the worker needs with the worker's configuration, one line per check
/// (<see cref="DependencyCheck"/>); exit 1 when a required one failed.</summary>
internal static class DoctorCommand
{
    public static Command Create()
    {
        var kafka = CommonOptions.Kafka();
        var redis = CommonOptions.Redis();
        var model = CommonOptions.WorkerModel();
        var timeout = new Option<double>("--timeout")
        {
            Description = "Seconds to wait for Kafka and for Redis",
            DefaultValueFactory = _ => 5,
            Validators = { r => { if (r.GetValueOrDefault<double>() is not (> 0 and <= 300)) r.AddError("--timeout must be in (0, 300] seconds"); } },
        };
        var command = new Command("doctor", "Checks what the worker needs, with the worker's configuration (appsettings.json, " +
            "environment, these flags): ffmpeg and ffprobe with the decoders of Media:Video:VideoCodecs (when video is on), the model " +
            "file and its checksum, ONNX Runtime's providers for Inference:Device, Kafka and the topics the configuration names, " +
            "Redis when configured. One line per check: 'ok|warn|fail NAME: DETAIL[; fix: WHAT TO DO]'. Exit 1 when a required check fails.")
        {
            kafka, redis, model, timeout,
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
            Set("Screening:Model", parse.GetValue(model));
            ScreeningSettings settings;
            try
            {
                // The worker's configuration sources, in its order: appsettings.json, environment, then the flags.
                settings = ScreeningSettings.Load(overrides);
            }
            catch (Exception e) when (e is Microsoft.Extensions.Options.OptionsValidationException or ArgumentException or InvalidOperationException)
            {
                Console.Error.WriteLine($"moderation doctor: invalid configuration: {e.Message}");
                return ExitCodes.Usage;
            }
            var checks = await WorkerDoctor.CheckAllAsync(settings, TimeSpan.FromSeconds(parse.GetValue(timeout)), ct);
            foreach (var check in checks) Console.WriteLine(check);
            var failed = checks.Where(c => c.Failed).Select(c => c.Name).ToList();
            if (failed.Count == 0) return ExitCodes.Ok;
            Console.Error.WriteLine($"moderation doctor: {failed.Count} required check(s) failed: {string.Join(", ", failed)}");
            return ExitCodes.Failure;
        });
        return command;
    }
}
