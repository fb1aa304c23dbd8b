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
    IOptions<BanksOptions> banks,
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
            ModelComposition? models = null;
            var knownModels = ModelRegistry.All.Select(m => m.Name).ToList();
            using var watcher = screening.Value.PolicyFile is { Length: > 0 } file
                ? new PolicyWatcher(file, _logger, p => models?.Accept(p, screening.Value.Model), knownModels) : null;
            PolicyWatcher = watcher;
            var policy = watcher?.Current ?? Policy.Default;
            using var classifier = InferenceSetup.LoadClassifier(screening.Value, inference.Value, _logger);
            Inference = classifier;
            _logger.LogInformation("Model {Model} on {Device}; policy {Policy}", classifier.Model.VersionedName, classifier.Device, policy.Version);
            // Ensemble members and the shadow candidate the policy names, loaded once (a reload must keep them).
            using var composition = models = ModelComposition.Create(classifier, policy, screening.Value.ModelsDirectory, _logger);
            Shadow = composition.Shadow is { } shadowClassifier ? new ShadowDecisions(shadowClassifier, kafka.Value) : null;
            await using var batcher = composition.CreateBatcher(classifier, inference.Value);
            using var reader = new MediaReader(media.Value);
            IConnectionMultiplexer? connection = null;
            IDecisionCache? cache = null;
            BankMatcher? matcher = null;
            if (redis.Value.Configuration is { Length: > 0 } redisConfig)
            {
                connection = await RedisConnector.ConnectAsync(redisConfig, redis.Value.Security).ConfigureAwait(false);
                _redis = connection;
                cache = new RedisDecisionCache(connection, new RedisCacheOptions { Ttl = redis.Value.DecisionTtl });
                _logger.LogInformation("Decision cache on Redis ({Connected})", connection.IsConnected ? "connected" : "connecting");
                if (banks.Value.Enabled)
                {
                    matcher = new BankMatcher(new RedisBankStore(connection), BankMatcherSettings(banks.Value), _logger);
                    await matcher.StartAsync(banks.Value.StartupTimeout, stoppingToken).ConfigureAwait(false);
                }
            }
            else
            {
                _logger.LogWarning("No Redis configured: decisions are not cached");
            }
            try
            {
                var pipeline = new ScreeningPipeline(kafka.Value, screening.Value, policy, reader, batcher, cache, stats, _logger,
                    banks: matcher, banksFailClosed: banks.Value.WhenUnavailable != "model",
                    currentPolicy: watcher is null ? null : () => watcher.Current, shadow: Shadow,
                    mediaRetry: new MediaFetchResilience(mediaRetry.Value));
                using var consumer = new UploadConsumer(kafka.Value, pipeline, _logger);
                Consumer = consumer;
                _ready.TrySetResult();
                // The poll loop blocks in librdkafka: give it its own thread.
                await Task.Factory.StartNew(() => consumer.RunAsync(stoppingToken), CancellationToken.None,
                    TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap().ConfigureAwait(false);
            }
            finally
            {
                if (matcher is not null) await matcher.DisposeAsync().ConfigureAwait(false);
                if (connection is not null) await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested || e is not OperationCanceledException)
        {
            _ready.TrySetException(e);
            Failed = e;
            _logger.LogCritical(e, "Screening stopped: {Message}", e.Message);
            Environment.ExitCode = 1;
            // Stopping while the host is still starting would cancel its start; stop once it has started.
            if (lifetime.ApplicationStarted.IsCancellationRequested) lifetime.StopApplication();
            else lifetime.ApplicationStarted.Register(lifetime.StopApplication);
        }
    }

    private static BankMatcherOptions BankMatcherSettings(BanksOptions o) => new()
    {
        Match = new Hashing.Banks.BankMatchOptions { MaxDistance = o.MaxDistance, MinQuality = o.MinQuality, Dihedral = o.Dihedral },
        RefreshInterval = o.RefreshInterval,
        FullReloadInterval = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMinutes(15).Ticks, o.RefreshInterval.Ticks)),
        MaxStaleness = o.MaxStaleness,
    };
}
