using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Kafka;
using Moderation.Streams.Kafka.Replay;
using Moderation.Streams.Media;

namespace Moderation.Streams.Worker;

/// <summary>What to replay and how (the <c>moderation replay</c> flags).</summary>
public sealed record ReplayRequest
{
    public required ReplayBound From { get; init; }
    public ReplayBound To { get; init; } = new ReplayBound.Now();

    /// <summary>Names the replay's consumer group (<c>moderation-replay-NAME</c>); null = derived from the range,
    /// topic, policy, model and output, so running the same command again resumes it.</summary>
    public string? Name { get; init; }

    /// <summary>Publish to the live decision topics instead of <c>moderation.backfill.*</c>.</summary>
    public bool Live { get; init; }

    public bool DryRun { get; init; }
    public double? Rate { get; init; }
    public bool Compare { get; init; }

    /// <summary>Read and write the decision cache (banks are used either way when Redis is configured).</summary>
    public bool UseDecisionCache { get; init; }

    public int MaxInFlight { get; init; } = 256;
    public TimeSpan CommitInterval { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>The screening settings a replay builds its pipeline from (the worker's configuration sections).</summary>
/// <summary>How a replay ended, with the diff when it compared.</summary>
public sealed record ReplayReport(ReplayPlan Plan, ReplayResult Result, ReplayDiff? Diff, string PolicyVersion, string ModelVersion, KafkaOptions Output);

/// <summary>
/// A replay end to end: builds the pipeline as the worker does (with backfill or live output topics), resolves
/// the range, runs it in its own consumer group and, with <see cref="ReplayRequest.Compare"/>, diffs the outcomes
/// with those published before.
/// </summary>
public static class ReplayJob
{
    public static readonly TimeSpan KafkaTimeout = TimeSpan.FromSeconds(30);

    /// <param name="started">Called with the resolved plan and the runner, before it runs (progress display).</param>
    public static async Task<ReplayReport> RunAsync(ScreeningSettings settings, ReplayRequest request, ILogger logger,
        Action<ReplayPlan, ReplayRunner>? started, CancellationToken ct)
    {
        var output = ReplayTopics.Output(settings.Kafka, request.Live);
        await using var components = await ScreeningPipelineFactory.CreateAsync(settings with { Kafka = output }, new ScreeningStats(), logger,
            request.UseDecisionCache, watchPolicy: false, shadow: false, ct).ConfigureAwait(false);
        var policyVersion = components.Policy.Version;
        var modelVersion = components.Pipeline.ModelVersion;
        var name = request.Name ?? DefaultName(settings.Kafka.UploadsTopic, request, policyVersion, modelVersion);

        ReplayPlan plan;
        using (var resolver = new ReplayRangeResolver(settings.Kafka, ReplayTopics.GroupId(name), logger, KafkaTimeout))
            plan = resolver.Resolve(settings.Kafka.UploadsTopic, request.From, request.To);
        logger.LogInformation("Replay {Name}: {Topic} {Start} .. {End} ({Total} uploads, {Done} done before) with policy {Policy}, model {Model} → {Output}",
            name, plan.Topic, plan.StartSpec, plan.EndSpec, plan.Total, plan.AlreadyDone, policyVersion, modelVersion,
            request.DryRun ? "nothing (dry run)" : request.Live ? "the live topics" : ReplayTopics.Prefix + "*");

        ReplayComparison? comparison = null;
        if (request.Compare)
        {
            comparison = new ReplayComparison(settings.Kafka, output);
            comparison.CaptureBaseline(KafkaTimeout);
        }
        using var runner = new ReplayRunner(output, plan, components.Pipeline, new ReplayOptions
        {
            DryRun = request.DryRun,
            Rate = request.Rate,
            MaxInFlight = request.MaxInFlight,
            CommitInterval = request.CommitInterval,
            ShutdownTimeout = settings.Kafka.ShutdownTimeout,
        }, logger)
        {
            Outcome = comparison is null ? null : comparison.Record,
        };
        started?.Invoke(plan, runner);
        var result = await Task.Factory.StartNew(() => runner.RunAsync(ct), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)
            .Unwrap().ConfigureAwait(false);
        var diff = comparison is not null && result.Completed ? comparison.Diff(plan, readBackEarlierRuns: !request.DryRun, KafkaTimeout) : null;
        return new ReplayReport(plan, result, diff, policyVersion, modelVersion, output);
    }

    /// <summary>A stable name for the same replay asked twice: 12 hex digits of a hash of what defines it.</summary>
    public static string DefaultName(string topic, ReplayRequest request, string policyVersion, string modelVersion)
    {
        var identity = string.Join("|", topic, request.From, request.To, policyVersion, modelVersion, request.Live ? "live" : "backfill", request.DryRun ? "dry" : "publish");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(identity)))[..12];
    }
}
