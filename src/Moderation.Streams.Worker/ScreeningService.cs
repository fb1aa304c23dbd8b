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
    ILoggerFactory loggers) : BackgroundService
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

    /// <summary>Readiness: model loaded, Kafka brokers reachable, Redis reachable or the degraded mode announced.</summary>
    public WorkerHealth Health()
    {
        var consumer = Consumer;
        bool modelReady = Ready.IsCompletedSuccessfully && Inference is not null;
        string kafkaState = consumer is null ? "starting" : consumer.BrokersReachable ? "reachable" : "all brokers down";
        string redisState = redis.Value.Configuration is not { Length: > 0 } ? "none (decisions not cached, banks off)"
            : _redis?.IsConnected == true ? "connected"
            : "unreachable: degraded (model decides; bank-less decisions follow Banks:WhenUnavailable)";
        bool ready = Failed is null && modelReady && consumer is not null && consumer.BrokersReachable;
        return new WorkerHealth(ready, Failed is not null ? "failed" : ready ? "ready" : "not ready",
            Inference?.Model.VersionedName, Inference?.Device, Inference?.DeviceFallbackReason,
            kafkaState, redisState, consumer?.AssignedPartitions ?? 0, consumer?.InFlight ?? 0);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Loading the model takes a while: let the host finish starting (the health endpoints answer meanwhile).
        await Task.Yield();
        try
        {
            await using var components = await ScreeningPipelineFactory.CreateAsync(
                new ScreeningSettings(kafka.Value, screening.Value, media.Value, redis.Value, banks.Value, inference.Value, mediaRetry.Value),
                stats, _logger, useDecisionCache: true, watchPolicy: true, shadow: true, stoppingToken).ConfigureAwait(false);
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
            _ready.TrySetException(e);
            Failed = e;
            // Could not start (model, policy, settings): one line says why; a crash while running keeps its stack trace.
            if (!Ready.IsCompletedSuccessfully || StartupErrors.IsConfiguration(e)) _logger.LogCritical("Screening stopped: {Message}", StartupErrors.OneLine(e));
            else _logger.LogCritical(e, "Screening stopped: {Message}", e.Message);
            Environment.ExitCode = 1;
            // Stopping while the host is still starting would cancel its start; stop once it has started.
            if (lifetime.ApplicationStarted.IsCancellationRequested) lifetime.StopApplication();
            else lifetime.ApplicationStarted.Register(lifetime.StopApplication);
        }
    }
}
