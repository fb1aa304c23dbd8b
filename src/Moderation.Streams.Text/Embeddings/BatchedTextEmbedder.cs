using Moderation.Streams.Inference;

namespace Moderation.Streams.Text.Embeddings;

/// <summary>
/// <see cref="SentenceEmbedder"/> behind the project's dynamic batcher (<see cref="DynamicBatcher{TInput, TResult}"/>):
/// texts submitted at once (a bank being loaded, captions of uploads screened side by side) run as one model call.
/// Disposal drains the batcher; the embedder is disposed with it when this owns it.
/// </summary>
public sealed class BatchedTextEmbedder : ITextEmbedder, IAsyncDisposable
{
    private readonly SentenceEmbedder _embedder;
    private readonly bool _ownsEmbedder;
    private readonly DynamicBatcher<string, float[]> _batcher;

    public BatchedTextEmbedder(SentenceEmbedder embedder, DynamicBatcherOptions? options = null, bool ownsEmbedder = true, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(embedder);
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

    public Task<float[]> EmbedAsync(string text, CancellationToken ct = default) => _batcher.SubmitAsync(text, ct);

    public async ValueTask DisposeAsync()
    {
        await _batcher.DisposeAsync().ConfigureAwait(false);
        if (_ownsEmbedder) _embedder.Dispose();
    }
}
