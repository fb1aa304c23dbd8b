using Moderation.Streams.Redis.Banks;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Kafka;
using Moderation.Streams.Kafka.Replay;
using Moderation.Streams.Media;
using Moderation.Streams.Worker;
using Moderation.Streams.Worker.Logging;
using Spectre.Console;

namespace Moderation.Streams.Cli.Commands;

/// <summary>
/// <c>moderation replay</c>: re-screens a range of the uploads topic with the configured (or a candidate) policy and
/// model, in its own consumer group, to the backfill topics by default; optionally diffs with what was published.
/// </summary>
internal static class ReplayCommand
{
    public static Command Create()
    {
        var kafka = CommonOptions.Kafka();
        var redis = CommonOptions.Redis();
        var from = new Option<string>("--from")
        {
            Description = "Start: ISO 8601 timestamp (2026-11-25T10:00:00Z), @UNIX_MS, earliest, or PARTITION:OFFSET[,…] (only those partitions)",
            Required = true,
        };
        var to = new Option<string>("--to")
        {
            Description = "End (exclusive): timestamp, @UNIX_MS, PARTITION:OFFSET[,…], or now (the end offsets when the replay starts)",
            DefaultValueFactory = _ => "now",
        };
        var name = new Option<string?>("--name") { Description = "Replay name; progress is committed to group moderation-replay-NAME. Default: derived from range, topic, policy, model and output, so the same command resumes" };
        var topic = new Option<string?>("--topic") { Description = "Uploads topic (config Kafka:UploadsTopic)" };
        var live = new Option<bool>("--live") { Description = "Publish to the live decision topics instead of moderation.backfill.<action> / moderation.backfill.dlq" };
        var withoutBanks = new Option<bool>("--without-banks")
        {
            Description = "Allow --live without --redis: decisions published with no hash bank consulted (banked content may be allowed)",
        };
        var dryRun = new Option<bool>("--dry-run") { Description = "Decide without publishing or committing anything" };
        var rate = new Option<double?>("--rate") { Description = "At most this many uploads per second (leave live screening its share)" };
        var model = new Option<string?>("--model") { Description = "Candidate model (config Screening:Model)" };
        var policy = new Option<FileInfo?>("--policy") { Description = "Candidate policy JSON file (config Screening:PolicyFile)" };
        var mediaRoot = new Option<DirectoryInfo?>("--media-root") { Description = "Directory that file: URLs may read from (config Media:Root)" };
        var compare = new Option<bool>("--compare") { Description = "Diff each content_id's replayed outcome with the one published before; print a summary and write the report" };
        var report = new Option<string?>("--report") { Description = "Report path without extension: writes PATH.csv and PATH.json (default replay-NAME in the current directory)" };
        var useCache = new Option<bool>("--use-cache") { Description = "Read and write the Redis decision cache (default: bypassed, every upload is re-screened)" };
        var maxInFlight = new Option<int>("--max-in-flight") { Description = "Uploads screened at once", DefaultValueFactory = _ => 256 };
        var progress = new Option<string>("--progress") { Description = "auto (a bar on a terminal, lines otherwise), bar, lines or none", DefaultValueFactory = _ => "auto" };
        progress.AcceptOnlyFromAmong("auto", "bar", "lines", "none");

        var command = new Command("replay", "Re-screens a range of the uploads topic (timestamps or offsets) in its own consumer group, " +
            "to moderation.backfill.* (or the live topics with --live); resumable; --compare diffs with the decisions published before.")
        {
            kafka, redis, from, to, name, topic, live, withoutBanks, dryRun, rate, model, policy, mediaRoot, compare, report, useCache, maxInFlight, progress,
        };
        command.SetAction(async (parse, ct) =>
        {
            ReplayRequest request;
            try
            {
                request = new ReplayRequest
                {
                    From = ReplayBound.Parse(parse.GetValue(from)!),
                    To = ReplayBound.Parse(parse.GetValue(to)!),
                    Name = parse.GetValue(name),
                    Live = parse.GetValue(live),
                    DryRun = parse.GetValue(dryRun),
                    Rate = parse.GetValue(rate),
                    Compare = parse.GetValue(compare),
                    UseDecisionCache = parse.GetValue(useCache),
                    MaxInFlight = parse.GetValue(maxInFlight),
                };
            }
            catch (FormatException e)
            {
                return Usage(e.Message);
            }
            if (request.Rate is <= 0) return Usage("--rate must be positive");
            if (request.MaxInFlight < 1) return Usage("--max-in-flight must be at least 1");
            if (request.Name is { } n && !Contracts.UploadEventParser.IsValidId(n)) return Usage("--name must be characters of [A-Za-z0-9._:-]");
            if (parse.GetValue(policy) is { Exists: false } missing) return Usage($"no such policy file: {missing.FullName}");

            var overrides = new Dictionary<string, string?>();
            void Set(string key, string? value)
            {
                if (!string.IsNullOrEmpty(value)) overrides[key] = value;
            }
            Set("Kafka:BootstrapServers", parse.GetValue(kafka));
            Set("Kafka:UploadsTopic", parse.GetValue(topic));
            Set("Redis:Configuration", parse.GetValue(redis));
            Set("Media:Root", parse.GetValue(mediaRoot)?.FullName);
            Set("Screening:PolicyFile", parse.GetValue(policy)?.FullName);
            Set("Screening:Model", parse.GetValue(model));
            var settings = Settings(overrides);
            if (settings.Redis.Configuration is not { Length: > 0 })
            {
                // Without Redis no bank is consulted: banked content the worker took down would be re-decided by the model alone.
                if (request.Live && !request.DryRun && !parse.GetValue(withoutBanks))
                    return Usage("--live without --redis would publish decisions made with no hash bank consulted (banked content may be allowed): " +
                        "give --redis CONFIG (or Redis__Configuration), or --without-banks to publish them anyway");
                Console.Error.WriteLine("moderation replay: no --redis: hash banks are not consulted, so decisions may differ from the worker's (a bank takedown becomes the model's call)");
            }
            return await RunAsync(settings, request, parse.GetValue(report), parse.GetValue(progress)!, ct);
        });
        return command;
    }

    private static int Usage(string message)
    {
        Console.Error.WriteLine($"moderation replay: {message}");
        return ExitCodes.Usage;
    }

    /// <summary>The worker's configuration sources: appsettings.json, environment, then the flags.</summary>
    private static ScreeningSettings Settings(Dictionary<string, string?> overrides) => ScreeningSettings.Load(overrides);

    private static async Task<int> RunAsync(ScreeningSettings settings, ReplayRequest request, string? reportPath, string progressMode, CancellationToken ct)
    {
        using var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning).AddSafeConsole(o => o.TimestampFormat = "HH:mm:ss.fff "));
        var logger = loggers.CreateLogger("Moderation.Streams.Replay");
        var console = AnsiConsole.Console;
        bool bar = progressMode == "bar" || (progressMode == "auto" && console.Profile.Capabilities.Interactive && !Console.IsOutputRedirected);
        var watch = Stopwatch.StartNew();
        ReplayPlan? plan = null;
        ReplayRunner? runner = null;
        var startedSignal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        Task<ReplayReport> job;
        try
        {
            job = ReplayJob.RunAsync(settings, request, logger, (p, r) =>
            {
                plan = p;
                runner = r;
                Console.WriteLine($"replay group={p.GroupId} topic={p.Topic} from={p.StartSpec} to={p.EndSpec} total={p.Total} done_before={p.AlreadyDone}" +
                    (p.Unavailable > 0 ? $" deleted_by_retention={p.Unavailable}" : ""));
                startedSignal.TrySetResult();
            }, ct);
            await Task.WhenAny(job, startedSignal.Task);
            if (job.IsCompleted) await job; // failed before it started: surface the error
            if (progressMode != "none") await ShowProgressAsync(console, bar, plan!, runner!, job);
            var report = await job;
            return Finish(report, request, reportPath, watch.Elapsed);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidDataException or FileNotFoundException)
        {
            return Usage(e.Message);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Console.Error.WriteLine($"moderation replay: failed: {e.Message}");
            return ExitCodes.Failure;
        }
    }

    private static async Task ShowProgressAsync(IAnsiConsole console, bool bar, ReplayPlan plan, ReplayRunner runner, Task job)
    {
        var rate = new RateMeter();
        if (bar)
        {
            await console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .StartAsync(async ctx =>
                {
                    var task = ctx.AddTask("replay", maxValue: Math.Max(1, plan.Total));
                    while (true)
                    {
                        var done = plan.AlreadyDone + runner.Processed;
                        task.Value = done;
                        task.Description = $"replay {done:N0}/{plan.Total:N0} · {rate.Update(runner.Processed):0.0}/s";
                        if (job.IsCompleted) break;
                        await Task.WhenAny(job, Task.Delay(250));
                    }
                });
            return;
        }
        while (!job.IsCompleted)
        {
            await Task.WhenAny(job, Task.Delay(TimeSpan.FromSeconds(2)));
            var done = plan.AlreadyDone + runner.Processed;
            var perSecond = rate.Update(runner.Processed);
            var eta = perSecond > 0 ? TimeSpan.FromSeconds((plan.Total - done) / perSecond) : (TimeSpan?)null;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"progress {done}/{plan.Total} {(plan.Total == 0 ? 100 : 100.0 * done / plan.Total):0.0}% {perSecond:0.0}/s eta {(eta is { } e ? e.ToString(@"hh\:mm\:ss", CultureInfo.InvariantCulture) : "-")}"));
        }
    }

    /// <summary>Uploads per second over the last few seconds.</summary>
    private sealed class RateMeter
    {
        private readonly Queue<(TimeSpan At, long Count)> _samples = new([(TimeSpan.Zero, 0L)]);
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        public double Update(long count)
        {
            var now = _clock.Elapsed;
            _samples.Enqueue((now, count));
            while (_samples.Count > 2 && now - _samples.Peek().At > TimeSpan.FromSeconds(5)) _samples.Dequeue();
            var (at, first) = _samples.Peek();
            var seconds = (now - at).TotalSeconds;
            return seconds > 0 ? (count - first) / seconds : 0;
        }
    }

    private static string Side(string? value) => string.IsNullOrEmpty(value) ? "-" : value;

    private static int Finish(ReplayReport report, ReplayRequest request, string? reportPath, TimeSpan elapsed)
    {
        var r = report.Result;
        var destination = request.DryRun ? "nothing (dry run)" : request.Live ? "the live topics" : ReplayTopics.Prefix + "*";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"replay {(r.Completed ? "completed" : "incomplete")}: {r.Done}/{r.Total} uploads ({r.AlreadyDone} before this run, {r.Processed} now) in {elapsed.TotalSeconds:0.0} s, " +
            $"{r.Processed / Math.Max(0.001, elapsed.TotalSeconds):0.0} uploads/s; {r.Published} records to {destination}; policy {report.PolicyVersion}, model {report.ModelVersion}"));
        if (report.Diff is { } diff)
        {
            Console.WriteLine($"compare: {diff.Compared} content ids, {diff.Unchanged} unchanged, {diff.Changed} changed");
            foreach (var (transition, count) in diff.Transitions) Console.WriteLine($"  {transition} {count}");
            // The first changes with why each side decided as it did; the report has them all (the same columns).
            const int shown = 10;
            foreach (var c in diff.Changes.Take(shown))
                Console.WriteLine($"  changed {c.ContentId} {c.Transition}: reason {Side(c.BeforeReason)} -> {Side(c.AfterReason)}; " +
                                  $"score {Side(c.BeforeScore)} -> {Side(c.AfterScore)}; bank {Side(c.BeforeBank)} -> {Side(c.AfterBank)}");
            if (diff.Changed > shown) Console.WriteLine($"  … {diff.Changed - shown} more changes in the report");
            var path = reportPath ?? "replay-" + report.Plan.GroupId["moderation-replay-".Length..];
            using (var csv = new StreamWriter(path + ".csv")) diff.WriteCsv(csv);
            using (var json = File.Create(path + ".json"))
                diff.WriteJson(json, new { topic = report.Plan.Topic, from = report.Plan.StartSpec, to = report.Plan.EndSpec, group = report.Plan.GroupId, policy_version = report.PolicyVersion, model_version = report.ModelVersion });
            Console.WriteLine($"report: {Path.GetFullPath(path + ".csv")} {Path.GetFullPath(path + ".json")}");
        }
        if (r.Completed) return ExitCodes.Ok;
        Console.Error.WriteLine($"moderation replay: incomplete ({r.Error}): {r.Done} of {r.Total} uploads processed. " +
            (request.DryRun ? "A dry run commits nothing: run it again." : $"Run the same command again (or --name {report.Plan.GroupId["moderation-replay-".Length..]} with --from {report.Plan.StartSpec} --to {report.Plan.EndSpec}) to resume from the committed offsets."));
        return ExitCodes.Failure;
    }
}
