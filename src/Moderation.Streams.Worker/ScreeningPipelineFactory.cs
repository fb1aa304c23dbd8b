using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Inference;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;
using StackExchange.Redis;

namespace Moderation.Streams.Worker;

/// <summary>Everything one <see cref="ScreeningPipeline"/> runs on; disposing it releases the model, Redis and banks.</summary>
public sealed class ScreeningComponents : IAsyncDisposable
{
    public required Policy Policy { get; init; }
    public required OnnxImageClassifier Classifier { get; init; }
    public required DynamicBatcher Batcher { get; init; }
    public required MediaReader Media { get; init; }
    public IConnectionMultiplexer? Redis { get; init; }
    public IDecisionCache? Cache { get; init; }
    public BankMatcher? Banks { get; init; }
    public required ScreeningPipeline Pipeline { get; init; }

    public async ValueTask DisposeAsync()
    {
        if (Banks is not null) await Banks.DisposeAsync().ConfigureAwait(false);
        if (Redis is not null) await Redis.DisposeAsync().ConfigureAwait(false);
        await Batcher.DisposeAsync().ConfigureAwait(false);
        Media.Dispose();
        Classifier.Dispose();
    }
}

/// <summary>
/// Assembles a screening pipeline from the worker's settings — policy, classifier, batcher, media reader,
/// decision cache, banks — the way the service does, so a replay screens exactly as a worker would.
/// </summary>
public static class ScreeningPipelineFactory
{
    /// <param name="kafka">Decides where outcomes go (<see cref="KafkaOptions.TopicFor"/>, DLQ).</param>
    /// <param name="useDecisionCache">Read and write the Redis decision cache; banks are used either way when Redis is configured.</param>
    public static async Task<ScreeningComponents> CreateAsync(KafkaOptions kafka, ScreeningOptions screening, MediaOptions media,
        RedisOptions redis, BanksOptions banks, ScreeningStats stats, ILogger logger, bool useDecisionCache, CancellationToken ct,
        InferenceOptions? inference = null)
    {
        var policy = screening.PolicyFile is { Length: > 0 } file ? Policy.Load(file) : Policy.Default;
        inference ??= new InferenceOptions();
        var classifier = InferenceSetup.LoadClassifier(screening, inference, logger);
        DynamicBatcher? batcher = null;
        MediaReader? reader = null;
        IConnectionMultiplexer? connection = null;
        BankMatcher? matcher = null;
        try
        {
            logger.LogInformation("Model {Model} on {Device}; policy {Policy}", classifier.Model.VersionedName, classifier.Device, policy.Version);
            batcher = InferenceSetup.CreateBatcher(classifier, inference);
            reader = new MediaReader(media);
            IDecisionCache? cache = null;
            if (redis.Configuration is { Length: > 0 } redisConfig)
            {
                connection = await RedisConnector.ConnectAsync(redisConfig, redis.Security).ConfigureAwait(false);
                if (useDecisionCache) cache = new RedisDecisionCache(connection, new RedisCacheOptions { Ttl = redis.DecisionTtl });
                if (banks.Enabled)
                {
                    matcher = new BankMatcher(new RedisBankStore(connection), MatcherOptions(banks), logger);
                    await matcher.StartAsync(banks.StartupTimeout, ct).ConfigureAwait(false);
                }
            }
            var pipeline = new ScreeningPipeline(kafka, screening, policy, reader, batcher, cache, stats, logger,
                banks: matcher, banksFailClosed: banks.WhenUnavailable != "model");
            return new ScreeningComponents
            {
                Policy = policy, Classifier = classifier, Batcher = batcher, Media = reader, Redis = connection, Cache = cache, Banks = matcher, Pipeline = pipeline,
            };
        }
        catch
        {
            if (matcher is not null) await matcher.DisposeAsync().ConfigureAwait(false);
            if (connection is not null) await connection.DisposeAsync().ConfigureAwait(false);
            if (batcher is not null) await batcher.DisposeAsync().ConfigureAwait(false);
            reader?.Dispose();
            classifier.Dispose();
            throw;
        }
    }

    public static BankMatcherOptions MatcherOptions(BanksOptions o) => new()
    {
        Match = new Hashing.Banks.BankMatchOptions { MaxDistance = o.MaxDistance, MinQuality = o.MinQuality, Dihedral = o.Dihedral },
        RefreshInterval = o.RefreshInterval,
        FullReloadInterval = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMinutes(15).Ticks, o.RefreshInterval.Ticks)),
        MaxStaleness = o.MaxStaleness,
    };
}
