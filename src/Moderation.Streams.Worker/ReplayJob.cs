using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Kafka.Replay;

namespace Moderation.Streams.Worker;

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
            request.UseDecisionCache, watchPolicy: false, shadow: false, liveCounters: false, ct).ConfigureAwait(false);
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
