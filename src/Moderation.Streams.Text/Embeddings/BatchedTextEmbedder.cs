using BitFaster.Caching.Lru;
using Moderation.Streams.Inference;

namespace Moderation.Streams.Text.Embeddings;

/// <summary>
/// <see cref="SentenceEmbedder"/> behind the project's dynamic batcher (<see cref="DynamicBatcher{TInput, TResult}"/>):
/// texts submitted at once (a bank being loaded, captions of uploads screened side by side) run as one model call, and
/// the vectors of the last <see cref="DefaultCacheEntries"/> distinct texts are kept (BitFaster.Caching's bounded LRU),
/// so a text seen again (the same caption on many uploads, a redelivery, a replay) costs no model call.
/// Disposal drains the batcher; the embedder is disposed with it when this owns it.
/// </summary>
public sealed class BatchedTextEmbedder : ITextEmbedder, IAsyncDisposable
{
    private readonly SentenceEmbedder _embedder;
    private readonly bool _ownsEmbedder;
    private readonly DynamicBatcher<string, float[]> _batcher;
    private readonly ConcurrentLru<string, float[]>? _cache;
    private long _cacheHits;

    /// <summary>Vectors kept for repeated texts by default: 4,096 × 384 floats ≈ 6 MiB.</summary>
    public const int DefaultCacheEntries = 4096;

    /// <param name="cacheEntries">How many texts' vectors to keep for texts seen again (an exact repeat: the same
    /// caption on many uploads, a redelivery, a replay), least recently used first out (at least 3); 0 keeps none.</param>
    public BatchedTextEmbedder(SentenceEmbedder embedder, DynamicBatcherOptions? options = null, bool ownsEmbedder = true, TimeProvider? time = null,
        int cacheEntries = DefaultCacheEntries)
    {
        ArgumentNullException.ThrowIfNull(embedder);
        ArgumentOutOfRangeException.ThrowIfNegative(cacheEntries);
        _cache = cacheEntries > 0 ? new ConcurrentLru<string, float[]>(Math.Max(3, cacheEntries)) : null; // its smallest
        _embedder = embedder;
        _ownsEmbedder = ownsEmbedder;
        _batcher = new DynamicBatcher<string, float[]>(new BatchModel<string, float[]>(embedder.Embed, embedder.Name, "cpu"),
            options ?? new DynamicBatcherOptions { MaxBatchSize = 32, MaxQueueDelay = TimeSpan.FromMilliseconds(2), MaxQueued = 4096 }, time);
    }

    public string Model => _embedder.Name;

    /// <summary>Model calls so far.</summary>
    public long Batches => _batcher.Batches;

    /// <summary>Texts embedded so far.</summary>
    public long Texts => _batcher.Items;

    /// <summary>Texts answered from the vectors kept for repeated texts, without the model.</summary>
    public long CacheHits => Interlocked.Read(ref _cacheHits);

    /// <summary>Texts whose vectors are kept now (at most the capacity given, or 3).</summary>
    public int CachedTexts => _cache?.Count ?? 0;

    /// <summary>The text's unit vector. The array is shared with every caller of the same text: read it, never write it.</summary>
    public async Task<float[]> EmbedAsync(string text, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (_cache is null) return await _batcher.SubmitAsync(text, ct).ConfigureAwait(false);
        if (_cache.TryGet(text, out var known))
        {
            Interlocked.Increment(ref _cacheHits);
            return known;
        }
        var vector = await _batcher.SubmitAsync(text, ct).ConfigureAwait(false);
        _cache.AddOrUpdate(text, vector);
        return vector;
    }

    public async ValueTask DisposeAsync()
    {
        await _batcher.DisposeAsync().ConfigureAwait(false);
        if (_ownsEmbedder) _embedder.Dispose();
    }
}
