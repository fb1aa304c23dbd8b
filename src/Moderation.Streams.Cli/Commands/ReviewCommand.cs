using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Moderation.Streams.Review;

namespace Moderation.Streams.Cli.Commands;

internal static class ReviewCommand
{
    public static Command Create()
    {
        var kafka = CommonOptions.Kafka();
        var redis = CommonOptions.Redis();
        redis.Description = "StackExchange.Redis configuration string of the queue and the banks (config Redis:Configuration; default 127.0.0.1:6379)";
        var port = new Option<int?>("--port") { Description = "Port of the console and its API (config Review:Port, default 8080; 0 = any free port)" };
        var telemetryPort = new Option<int?>("--telemetry-port") { Description = "Port of /metrics, /healthz and /readyz, served without login (config Review:TelemetryPort, default 9465; 0 = any free, -1 = none)" };
        var mediaRoot = new Option<DirectoryInfo?>("--media-root") { Description = "Directory that file: media URLs may be read from, as the worker's (config Media:Root)" };
        var users = UsersFile();
        var command = new Command("review", "Serves the human review console and its JSON API: consumes moderation.decisions.review into a queue in Redis; " +
            "reviewers claim items and publish verdicts to moderation.reviews and the takedown/allow topics. Every page and API call needs a user of the users file " +
            "(moderation review user add). Prints console=URL and telemetry=URL, then serves until SIGTERM.")
        {
            kafka, redis, port, telemetryPort, mediaRoot, users,
        };
        command.Subcommands.Add(UserCommand());
        command.Subcommands.Add(ReviewExportCommand.Create());
        command.SetAction(async (parse, ct) =>
        {
            var overrides = new Dictionary<string, string?>();
            void Set(string key, string? value)
            {
                if (!string.IsNullOrEmpty(value)) overrides[key] = value;
            }
            Set("Kafka:BootstrapServers", parse.GetValue(kafka));
            Set("Redis:Configuration", parse.GetValue(redis));
            Set("Review:Port", parse.GetValue(port)?.ToString());
            Set("Review:TelemetryPort", parse.GetValue(telemetryPort)?.ToString());
            Set("Media:Root", parse.GetValue(mediaRoot)?.FullName);
            Set("Review:UsersFile", parse.GetValue(users)?.FullName);
            WebApplication app;
            try
            {
                app = ReviewHost.Build(overrides);
            }
            catch (Exception e) when (e is Microsoft.Extensions.Options.OptionsValidationException or InvalidOperationException or ArgumentException or FormatException)
            {
                Console.Error.WriteLine($"moderation review: invalid configuration: {e.Message}");
                return ExitCodes.Usage;
            }
            await using (app)
            {
                var userFile = app.Services.GetService(typeof(ReviewUsers)) as ReviewUsers;
                if (userFile is not null && userFile.Current.Count == 0)
                    Console.Error.WriteLine($"moderation review: no users yet ({userFile.Problem ?? userFile.FilePath + " has none"}); nobody can log in until 'moderation review user add NAME --role reviewer|admin' writes one");
                try
                {
                    await app.StartAsync(CancellationToken.None);
                }
                catch (IOException e)
                {
                    Console.Error.WriteLine($"moderation review: cannot listen: {e.Message} (--port, --telemetry-port)");
                    return ExitCodes.Failure;
                }
                var (console, telemetry) = ReviewHost.ListeningOn(app);
                Console.WriteLine($"console={console.ToString().TrimEnd('/')}");
                if (telemetry is not null) Console.WriteLine($"telemetry={telemetry.ToString().TrimEnd('/')} (/metrics, /healthz, /readyz)");
                try
                {
                    await Task.Delay(Timeout.Infinite, ct);
                }
                catch (OperationCanceledException)
                {
                }
                await app.StopAsync(CancellationToken.None);
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    public static Option<FileInfo?> UsersFile() => new("--users-file") { Description = "The users file (config Review:UsersFile, default review-users.json)" };

    private static Command UserCommand()
    {
        var name = new Argument<string>("NAME") { Description = "User name: 1-64 letters, digits, '.', '_', '-', '@'" };
        var role = new Option<string>("--role") { Description = "reviewer (works the queue) or admin (also audit, releasing others' claims)", Required = true };
        var users = UsersFile();
        var add = new Command("add", "Adds a user to the users file, or replaces their password and role. The password is read from standard input " +
            "(its first line), stored as a salted PBKDF2-SHA256 hash (600,000 iterations); the file is written with mode 0600.") { name, role, users };
        add.SetAction(parse =>
        {
            string path = parse.GetValue(users)?.FullName ?? ReviewConfiguration.Load()["Review:UsersFile"] ?? "review-users.json";
            string? password = Console.In.ReadLine();
            try
            {
                bool replaced = ReviewUsers.AddOrReplace(path, parse.GetValue(name)!, parse.GetValue(role)!, password ?? "");
                Console.WriteLine($"{(replaced ? "replaced" : "added")} {parse.GetValue(name)} ({parse.GetValue(role)}) in {path}");
                return ExitCodes.Ok;
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"moderation review user add: {e.Message.Split(" (Parameter")[0]}");
                return ExitCodes.Usage;
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"moderation review user add: {e.Message}");
                return ExitCodes.Failure;
            }
        });
        var user = new Command("user", "Manages the console's users file.");
        user.Subcommands.Add(add);
        return user;
    }
}
