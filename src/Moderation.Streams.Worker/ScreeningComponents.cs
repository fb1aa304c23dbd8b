using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Inference;
using Moderation.Streams.Media;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;
using StackExchange.Redis;

namespace Moderation.Streams.Worker;

/// <summary>Everything one <see cref="ScreeningPipeline"/> runs on; disposing it releases the model, Redis and banks.</summary>
public sealed class ScreeningComponents : IAsyncDisposable
{
    /// <summary>The policy at start (the pipeline reads <see cref="Watcher"/>'s current one when it watches the file).</summary>
    public required Policy Policy { get; init; }
    public required OnnxImageClassifier Classifier { get; init; }
    public required ModelComposition Models { get; init; }
    public required DynamicBatcher Batcher { get; init; }
    public required MediaReader Media { get; init; }
    public PolicyWatcher? Watcher { get; init; }
    public ShadowDecisions? Shadow { get; init; }
    public IConnectionMultiplexer? Redis { get; init; }
    public IDecisionCache? Cache { get; init; }
    public BankMatcher? Banks { get; init; }
    public Redis.TextBanks.TextBankMatcher? TextBanks { get; init; }
    public Redis.DigestBanks.DigestBankMatcher? DigestBanks { get; init; }

    /// <summary>The sentence model for meaning banks (loaded on first use).</summary>
    public Text.Embeddings.LazyTextEmbedder? TextEmbedder { get; init; }
    public required ScreeningPipeline Pipeline { get; init; }

    public async ValueTask DisposeAsync()
    {
        if (Banks is not null) await Banks.DisposeAsync().ConfigureAwait(false);
        if (TextBanks is not null) await TextBanks.DisposeAsync().ConfigureAwait(false);
        if (DigestBanks is not null) await DigestBanks.DisposeAsync().ConfigureAwait(false);
        if (TextEmbedder is not null) await TextEmbedder.DisposeAsync().ConfigureAwait(false);
        if (Redis is not null) await Redis.DisposeAsync().ConfigureAwait(false);
        await Batcher.DisposeAsync().ConfigureAwait(false);
        Pipeline.Dispose();
        Media.Dispose();
        Models.Dispose();
        Classifier.Dispose();
        Watcher?.Dispose();
    }
}
