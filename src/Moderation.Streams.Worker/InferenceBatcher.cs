using System.Threading.Channels;
using Moderation.Streams.Inference;
using Moderation.Streams.Media;

namespace Moderation.Streams.Worker;

/// <summary>
/// Callers submit one image and await its scores; a single loop forms batches of up to
/// <c>maxBatchSize</c> images, waiting at most <c>maxQueueDelay</c> after the first one, and runs them
/// through the classifier. The queue is bounded: when it is full, submitters wait (backpressure).
/// </summary>
public sealed class InferenceBatcher : IAsyncDisposable
{
    private readonly IImageClassifier _classifier;
    private readonly int _maxBatchSize;
    private readonly TimeSpan _maxQueueDelay;
    private readonly Channel<Request> _queue;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _batches, _images;

    public InferenceBatcher(IImageClassifier classifier, int maxBatchSize, TimeSpan maxQueueDelay, int maxQueued)
    {
        _classifier = classifier;
        _maxBatchSize = maxBatchSize;
        _maxQueueDelay = maxQueueDelay;
        _queue = Channel.CreateBounded<Request>(new BoundedChannelOptions(maxQueued) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _loop = Task.Run(RunAsync);
    }

    public IImageClassifier Classifier => _classifier;
    public long Batches => Interlocked.Read(ref _batches);
    public long Images => Interlocked.Read(ref _images);

    public async Task<ClassScores> ClassifyAsync(DecodedImage image, CancellationToken ct)
    {
        var request = new Request(image, ct);
        await _queue.Writer.WriteAsync(request, ct).ConfigureAwait(false);
        using (ct.Register(static r => ((Request)r!).Completion.TrySetCanceled(), request))
            return await request.Completion.Task.ConfigureAwait(false);
    }

    private async Task RunAsync()
    {
        var batch = new List<Request>(_maxBatchSize);
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
            {
                batch.Clear();
                if (!reader.TryRead(out var first)) continue;
                batch.Add(first);
                if (_maxBatchSize > 1)
                {
                    using var window = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                    window.CancelAfter(_maxQueueDelay);
                    try
                    {
                        while (batch.Count < _maxBatchSize)
                        {
                            if (reader.TryRead(out var next)) { batch.Add(next); continue; }
                            if (!await reader.WaitToReadAsync(window.Token).ConfigureAwait(false)) break;
                        }
                    }
                    catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
                    {
                        // the queue delay is over: run what we have
                    }
                }
                Run(batch);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        while (reader.TryRead(out var left)) left.Completion.TrySetCanceled();
    }

    private void Run(List<Request> batch)
    {
        batch.RemoveAll(r => r.Completion.Task.IsCompleted); // cancelled while queued
        if (batch.Count == 0) return;
        try
        {
            var scores = _classifier.Classify(batch.Select(r => r.Image).ToList());
            for (int i = 0; i < batch.Count; i++) batch[i].Completion.TrySetResult(scores[i]);
            Interlocked.Increment(ref _batches);
            Interlocked.Add(ref _images, batch.Count);
        }
        catch (Exception e)
        {
            foreach (var r in batch) r.Completion.TrySetException(e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stop.Dispose();
    }

    private sealed class Request(DecodedImage image, CancellationToken ct)
    {
        public DecodedImage Image { get; } = image;
        public CancellationToken Token { get; } = ct;
        public TaskCompletionSource<ClassScores> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
