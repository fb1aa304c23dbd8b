namespace Moderation.Streams.Inference;

/// <summary>How <see cref="DynamicBatcher"/> forms and runs batches.</summary>
public sealed record DynamicBatcherOptions
{
    /// <summary>A batch runs as soon as it holds this many images.</summary>
    public int MaxBatchSize { get; init; } = 16;

    /// <summary>Longest the first image of a batch waits for others before the batch runs anyway.</summary>
    public TimeSpan MaxQueueDelay { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Images waiting for a batch; when full, <see cref="DynamicBatcher.ClassifyAsync"/> waits (backpressure).</summary>
    public int MaxQueued { get; init; } = 512;

    /// <summary>Batches running at once. While all are busy, waiting images gather into the next, larger batch.</summary>
    public int ConcurrentBatches { get; init; } = 1;

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBatchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxQueued, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(ConcurrentBatches, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxQueueDelay, TimeSpan.Zero);
    }
}
