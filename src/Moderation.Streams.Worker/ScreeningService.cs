using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Moderation.Streams.Contracts;
using Moderation.Streams.Inference;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;
using StackExchange.Redis;

namespace Moderation.Streams.Worker;

/// <summary>
/// The worker's one long-running job: loads the model and policy, connects to Redis (optional), and runs
/// the consume loop until the host stops. A crash of the pipeline stops the host with exit code 1.
/// </summary>
public sealed class ScreeningService(
    IOptions<KafkaOptions> kafka,
    IOptions<ScreeningOptions> screening,
    IOptions<InferenceOptions> inference,
    IOptions<MediaOptions> media,
    IOptions<MediaRetryOptions> mediaRetry,
    IOptions<RedisOptions> redis,
    IOptions<BankMatcherOptions> banks,
    ScreeningStats stats,
    IHostApplicationLifetime lifetime,
    ILoggerFactory loggers,
    IOptions<TextOptions> text) : BackgroundService
{
    private readonly ILogger _logger = loggers.CreateLogger("Moderation.Streams.Worker");
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the model is loaded and the consumer is about to subscribe.</summary>
    public Task Ready => _ready.Task;

    public UploadConsumer? Consumer { get; private set; }

    /// <summary>The loaded classifier (model, device, and why <c>auto</c> fell back to the CPU, if it did): health detail.</summary>
    public OnnxImageClassifier? Inference { get; private set; }

    /// <summary>Why the pipeline stopped, when it crashed (liveness turns red).</summary>
    public Exception? Failed { get; private set; }

    private IConnectionMultiplexer? _redis;

    /// <summary>Keeps the policy in step with <c>Screening:PolicyFile</c> (hot reload); null with the built-in policy.</summary>
    public PolicyWatcher? PolicyWatcher { get; private set; }

    /// <summary>The shadow model's would-be decisions and agreement counts; null when the policy has no shadow.</summary>
    public ShadowDecisions? Shadow { get; private set; }

    /// <summary>The start checks that failed (<see cref="WorkerDoctor.CheckInstallationAsync"/>): while any did, the worker
    /// is not ready and does not consume. Empty before they ran and when all passed.</summary>
    public IReadOnlyList<DependencyCheck> FailedChecks { get; private set; } = [];

    /// <summary>Readiness: start checks passed, model loaded, Kafka brokers reachable, Redis reachable or the degraded mode announced.</summary>
    public WorkerHealth Health()
    {
        var failedChecks = FailedChecks;
        var consumer = Consumer;
        bool modelReady = Ready.IsCompletedSuccessfully && Inference is not null;
        string kafkaState = consumer is null ? "starting" : consumer.BrokersReachable ? "reachable" : "all brokers down";
        string redisState = redis.Value.Configuration is not { Length: > 0 } ? "none (decisions not cached, banks off)"
            : _redis?.IsConnected == true ? "connected"
            : "unreachable: degraded (model decides; bank-less decisions follow Banks:WhenUnavailable)";
        bool ready = Failed is null && failedChecks.Count == 0 && modelReady && consumer is not null && consumer.BrokersReachable;
        return new WorkerHealth(ready, Failed is not null ? "failed" : ready ? "ready" : "not ready",
            Inference?.Model.VersionedName, Inference?.Device, Inference?.DeviceFallbackReason,
            failedChecks.Count > 0 ? "not started: a start check failed" : kafkaState, redisState,
            consumer?.AssignedPartitions ?? 0, consumer?.InFlight ?? 0,
            failedChecks.Count > 0 ? failedChecks.Select(c => c.ToString()).ToArray() : null);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Loading the model takes a while: let the host finish starting (the health endpoints answer meanwhile).
        await Task.Yield();
        try
        {
            var settings = new ScreeningSettings(kafka.Value, screening.Value, media.Value, redis.Value, banks.Value, inference.Value, mediaRetry.Value,
                text.Value);
            if (!await RunStartChecksAsync(settings, stoppingToken).ConfigureAwait(false))
            {
                // Not ready, and out of the consumer group: the partitions go to the workers that can screen them, a
                // rollout of a broken image stalls instead of replacing good workers, and nothing is sent to the DLQ
                // for a fault of this process. A restart with the fix is the way out: nothing here would change.
                var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                using (stoppingToken.Register(() => stopped.TrySetResult())) await stopped.Task.ConfigureAwait(false);
                return;
            }
            await using var components = await ScreeningPipelineFactory.CreateAsync(
                settings,
                stats, _logger, useDecisionCache: true, watchPolicy: true, shadow: true, liveCounters: true, stoppingToken).ConfigureAwait(false);
            Inference = components.Classifier;
            PolicyWatcher = components.Watcher;
            Shadow = components.Shadow;
            _redis = components.Redis;
            using var consumer = new UploadConsumer(kafka.Value, components.Pipeline, _logger);
            Consumer = consumer;
            _ready.TrySetResult();
            // The poll loop blocks in librdkafka: give it its own thread.
            await Task.Factory.StartNew(() => consumer.RunAsync(stoppingToken), CancellationToken.None,
                TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap().ConfigureAwait(false);
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested || e is not OperationCanceledException)
        {
            bool starting = !Ready.IsCompleted;
            // The exit code and the failure are set before readiness fails: whoever awaits Ready sees both.
            Failed = e;
            Environment.ExitCode = 1;
            // Could not start (model, policy, settings): one line says why; a crash while running keeps its stack trace.
            if (starting || StartupErrors.IsConfiguration(e)) _logger.LogCritical("Screening stopped: {Message}", StartupErrors.OneLine(e));
            else _logger.LogCritical(e, "Screening stopped: {Message}", e.Message);
            _ready.TrySetException(e);
            // Stopping while the host is still starting would cancel its start; stop once it has started.
            if (lifetime.ApplicationStarted.IsCancellationRequested) lifetime.StopApplication();
            else lifetime.ApplicationStarted.Register(lifetime.StopApplication);
        }
    }

    /// <summary>
    /// Runs <c>moderation doctor</c>'s installation checks (ffmpeg, ffprobe, codecs, model, ONNX Runtime) and logs each
    /// one that is not ok with its fix. A failed model or ONNX Runtime check refuses the start (exit 1), as a model that
    /// does not load always did: nothing could be screened. Loading the model then refuses with its own error, except
    /// for a file that is not the registered one, which would load and be recorded under the registered name: refused
    /// here. A failed video check returns false (hold back): images could be screened, but every video would go to
    /// the DLQ as internal, so the worker stays up, not ready, without consuming.
    /// </summary>
    private async Task<bool> RunStartChecksAsync(ScreeningSettings settings, CancellationToken ct)
    {
        var checks = await WorkerDoctor.CheckInstallationAsync(settings, ct).ConfigureAwait(false);
        foreach (var check in checks)
        {
            // A model that does not load says so itself, in one line, when it is loaded below: not twice.
            if (check.Failed && !check.WrongModelFile && check.Name is WorkerDoctor.ModelCheck or WorkerDoctor.OnnxRuntimeCheck) continue;
            if (check.Status == CheckStatus.Warn) _logger.LogWarning("Start check: {Check}", check.ToString());
            else if (check.Failed) _logger.LogError("Start check: {Check}", check.ToString());
        }
        // A broken install, like a model that does not load (exit 1), not a setting to fix (exit 2).
        if (checks.FirstOrDefault(c => c.WrongModelFile) is { } wrongFile) throw new InvalidOperationException($"start check failed: {wrongFile}");
        // The model's loading refuses these with its own (typed) error.
        if (checks.Any(c => c.Failed && c.Name is WorkerDoctor.ModelCheck or WorkerDoctor.OnnxRuntimeCheck)) return true;
        var failed = checks.Where(c => c.Failed).ToArray();
        if (failed.Length == 0) return true;
        FailedChecks = failed;
        _logger.LogCritical("Not ready, not consuming: {Count} start check(s) failed ({Names}); fix them and restart (moderation doctor checks the same)",
            failed.Length, string.Join(", ", failed.Select(c => c.Name)));
        return false;
    }
}
