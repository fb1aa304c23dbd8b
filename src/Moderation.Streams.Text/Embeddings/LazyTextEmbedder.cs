using Moderation.Streams.Inference;

namespace Moderation.Streams.Text.Embeddings;

/// <summary>
/// The sentence model loaded on first use: a worker whose store holds no <c>texts</c> bank never pays for it (about
/// 90 MB and a second to load). A load that fails is retried at the next use, so a missing model fails the texts that
/// need it (closed), never the process.
/// </summary>
public sealed class LazyTextEmbedder(Func<SentenceEmbedder> load, DynamicBatcherOptions? options = null,
    int cacheEntries = BatchedTextEmbedder.DefaultCacheEntries) : ITextEmbedder, IAsyncDisposable
{
    private readonly Lock _gate = new();
    private BatchedTextEmbedder? _embedder;
    private bool _disposed;

    public string Model => SentenceEmbedder.ModelName;

    /// <summary>True once the model is loaded.</summary>
    public bool IsLoaded => Volatile.Read(ref _embedder) is not null;

    public Task<float[]> EmbedAsync(string text, CancellationToken ct = default) => Get().EmbedAsync(text, ct);

    private BatchedTextEmbedder Get()
    {
        if (Volatile.Read(ref _embedder) is { } ready) return ready;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_embedder is null) Volatile.Write(ref _embedder, new BatchedTextEmbedder(load(), options, cacheEntries: cacheEntries));
            return _embedder!;
        }
    }

    public async ValueTask DisposeAsync()
    {
        BatchedTextEmbedder? embedder;
        lock (_gate)
        {
            _disposed = true;
            embedder = _embedder;
        }
        if (embedder is not null) await embedder.DisposeAsync().ConfigureAwait(false);
    }
}
