using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Inference;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;
using StackExchange.Redis;

namespace Moderation.Streams.Worker;

/// <summary>
/// The one way a screening pipeline is assembled — policy (optionally watched for hot reload), classifier,
/// ensemble members and shadow candidate, batcher, media reader with retries, decision cache, banks — used by
/// the worker service and by replay, so a replay screens exactly as a worker would.
/// </summary>
public static class ScreeningPipelineFactory
{
    /// <param name="useDecisionCache">Read and write the Redis decision cache; banks are used either way when Redis is configured.</param>
    /// <param name="watchPolicy">Reload <c>Screening:PolicyFile</c> when it changes (the worker); a replay keeps the policy it started with.</param>
    /// <param name="shadow">Run the policy's shadow candidate and publish its would-be decisions (the worker; not a replay).</param>
    /// <param name="liveCounters">Count uploads in the shared live counters and act on them: the policy's uploader and
    /// campaign rules and its bank flood quarantine (the worker). A replay neither reads nor writes them.</param>
    public static async Task<ScreeningComponents> CreateAsync(ScreeningSettings settings, ScreeningStats stats, ILogger logger,
        bool useDecisionCache, bool watchPolicy, bool shadow, bool liveCounters, CancellationToken ct)
    {
        var (kafka, screening, media, redis, banks) = (settings.Kafka, settings.Screening, settings.Media, settings.Redis, settings.Banks);
        var inference = settings.Inference ?? new InferenceOptions();
        ModelComposition? models = null;
        PolicyWatcher? watcher = null;
        OnnxImageClassifier? classifier = null;
        DynamicBatcher? batcher = null;
        MediaReader? reader = null;
        IConnectionMultiplexer? connection = null;
        BankMatcher? matcher = null;
        Redis.TextBanks.TextBankMatcher? textMatcher = null;
        Redis.DigestBanks.DigestBankMatcher? digestMatcher = null;
        Text.Embeddings.LazyTextEmbedder? embedder = null;
        try
        {
            var knownModels = ModelRegistry.All.Select(m => m.Name).ToList();
            watcher = watchPolicy && screening.PolicyFile is { Length: > 0 } watched
                ? new PolicyWatcher(watched, logger, p => models?.Accept(p, screening.Model), knownModels) : null;
            var policy = watcher?.Current ?? (screening.PolicyFile is { Length: > 0 } file ? Policy.Load(file) : Policy.Default);
            classifier = InferenceSetup.LoadClassifier(screening, inference, logger);
            logger.LogInformation("Model {Model} on {Device}; policy {Policy}", classifier.Model.VersionedName, classifier.Device, policy.Version);
            // Ensemble members and the shadow candidate the policy names, loaded once (a reload must keep them).
            models = ModelComposition.Create(classifier, policy, screening.ModelsDirectory, logger);
            var shadowDecisions = shadow && models.Shadow is { } candidate ? new ShadowDecisions(candidate, kafka) : null;
            batcher = models.CreateBatcher(classifier, inference);
            reader = new MediaReader(media);
            IDecisionCache? cache = null;
            if (redis.Configuration is { Length: > 0 } redisConfig)
            {
                connection = await RedisConnector.ConnectAsync(redisConfig, redis.Security).ConfigureAwait(false);
                if (useDecisionCache) cache = new RedisDecisionCache(connection, new RedisCacheOptions { Ttl = redis.DecisionTtl });
                logger.LogInformation("Redis ({Connected}): decision cache {Cache}, banks {Banks}",
                    connection.IsConnected ? "connected" : "connecting", cache is null ? "off" : "on", banks.Enabled ? "on" : "off");
                if (banks.Enabled)
                {
                    matcher = new BankMatcher(new RedisBankStore(connection, banks.KeyPrefix), banks, logger);
                    await matcher.StartAsync(banks.StartupTimeout, ct).ConfigureAwait(false);
                    // Exact file-hash banks (MD5 / SHA-256 of the bytes), matched before decoding.
                    digestMatcher = new Redis.DigestBanks.DigestBankMatcher(new Redis.DigestBanks.RedisDigestBankStore(connection, banks.KeyPrefix), banks, logger);
                    await digestMatcher.StartAsync(banks.StartupTimeout, ct).ConfigureAwait(false);
                    // Term and domain banks for captions and text items, kept in step like the hash banks.
                    // Meaning banks: the sentence model is loaded when the first texts bank is, and batches like the classifier.
                    var text = settings.Text ?? new TextOptions();
                    embedder = new Text.Embeddings.LazyTextEmbedder(() => Text.Embeddings.SentenceEmbedder.Load(precision: text.ModelPrecision),
                        cacheEntries: text.EmbeddingCacheEntries);
                    textMatcher = new Redis.TextBanks.TextBankMatcher(connection, new Redis.TextBanks.RedisTextBankStore(connection, banks.KeyPrefix), banks, logger,
                        embedder: embedder);
                    await textMatcher.StartAsync(banks.StartupTimeout, ct).ConfigureAwait(false);
                }
            }
            else
            {
                logger.LogWarning("No Redis configured: decisions are not cached and no hash banks are matched");
            }
            var current = watcher;
            var services = new ScreenerServices
            {
                Batcher = batcher, Banks = matcher, DigestBanks = digestMatcher, BanksFailClosed = banks.FailClosed, Stats = stats, Logger = logger,
                TextBanks = textMatcher is { } texts ? () => texts.Current : null,
                Cache = cache is null ? null : new CachedDecisions(cache, stats, logger),
                BankFloods = liveCounters && connection is not null && banks.Enabled ? new RedisBankFloods(connection, banks.KeyPrefix) : null,
                Uploaders = liveCounters
                    ? new UploaderRules(connection is null ? null : new Redis.Uploaders.UploaderCountBatcher(new Redis.Uploaders.RedisUploaderState(connection, banks.KeyPrefix),
                        TimeSpan.FromMilliseconds(screening.UploaderBatchWindowMs), screening.UploaderBatchSize), banks.FailClosed, logger)
                    : UploaderRules.Off,
            };
            var pipeline = new ScreeningPipeline(kafka, screening, reader, services, current is null ? () => policy : () => current.Current,
                shadowDecisions, new MediaFetchResilience(settings.MediaRetry ?? new MediaRetryOptions()), (settings.Text ?? new TextOptions()).ToEventLimits(),
                bankTrials: shadow);
            return new ScreeningComponents
            {
                Policy = policy, Classifier = classifier, Models = models, Batcher = batcher, Media = reader, Watcher = watcher,
                Shadow = shadowDecisions, Redis = connection, Cache = cache, Banks = matcher, DigestBanks = digestMatcher, TextBanks = textMatcher, TextEmbedder = embedder, Pipeline = pipeline,
            };
        }
        catch
        {
            if (matcher is not null) await matcher.DisposeAsync().ConfigureAwait(false);
            if (textMatcher is not null) await textMatcher.DisposeAsync().ConfigureAwait(false);
            if (digestMatcher is not null) await digestMatcher.DisposeAsync().ConfigureAwait(false);
            if (embedder is not null) await embedder.DisposeAsync().ConfigureAwait(false);
            if (connection is not null) await connection.DisposeAsync().ConfigureAwait(false);
            if (batcher is not null) await batcher.DisposeAsync().ConfigureAwait(false);
            reader?.Dispose();
            models?.Dispose();
            classifier?.Dispose();
            watcher?.Dispose();
            throw;
        }
    }
}
