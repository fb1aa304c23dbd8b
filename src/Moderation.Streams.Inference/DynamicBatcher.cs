using System.Threading.Channels;
using Moderation.Streams.Media;

namespace Moderation.Streams.Inference;

/// <summary>
/// An in-process dynamic batcher (what Triton's dynamic batcher does for a model server): callers submit one
/// image and await its scores; one loop takes a free batch slot (at most
/// <see cref="DynamicBatcherOptions.ConcurrentBatches"/> batches run at once), then gathers waiting images
/// until the batch holds <see cref="DynamicBatcherOptions.MaxBatchSize"/> or
/// <see cref="DynamicBatcherOptions.MaxQueueDelay"/> has passed since its first image, whichever comes first,
/// and runs it on the thread pool; a runner that finishes while a full batch is already waiting goes straight on
/// with it (no hand-off). The queue is bounded (<see cref="DynamicBatcherOptions.MaxQueued"/>):
/// submitters wait when it is full. A caller that cancels gets <see cref="OperationCanceledException"/> at
/// once, and its image is left out of the batch if the batch has not started. Disposal stops new submissions,
/// runs what is already queued, and waits for running batches. Time comes from a <see cref="TimeProvider"/>.
/// </summary>
public sealed class DynamicBatcher(IImageClassifier classifier, DynamicBatcherOptions? options = null, TimeProvider? time = null)
    : DynamicBatcher<DecodedImage, ClassScores>(BatchModel(classifier), options, time)
{
    public IImageClassifier Classifier { get; } = classifier;

    /// <summary>Images classified so far.</summary>
    public long Images => Items;

    /// <summary>Scores one image as part of a batch.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was cancelled first.</exception>
    /// <exception cref="ObjectDisposedException">The batcher is disposed.</exception>
    public Task<ClassScores> ClassifyAsync(DecodedImage image, CancellationToken ct = default) => SubmitAsync(image, ct);

    private static BatchModel<DecodedImage, ClassScores> BatchModel(IImageClassifier classifier)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        return new(classifier.Classify, classifier.Model.VersionedName, classifier.Device);
    }
}

/// <summary>What a <see cref="DynamicBatcher{TInput, TResult}"/> runs: one call per batch, one result per input in
/// order, and the model and device named in telemetry.</summary>
public sealed record BatchModel<TInput, TResult>(Func<IReadOnlyList<TInput>, IReadOnlyList<TResult>> Run, string Model, string Device);

/// <summary>The batching itself, for any model that takes a batch of inputs (images, texts); see <see cref="DynamicBatcher"/>.</summary>
public class DynamicBatcher<TInput, TResult> : IAsyncDisposable
{
    private readonly BatchModel<TInput, TResult> _model;
    private readonly DynamicBatcherOptions _options;
    private readonly TimeProvider _time;
    private readonly Channel<Request> _queue;
    private readonly SemaphoreSlim _slots;
    private readonly Stack<Batch> _idleBatches = new();
    private readonly Task _loop;
    private long _batches, _images, _cancelled;
    private int _disposed;

    public DynamicBatcher(BatchModel<TInput, TResult> model, DynamicBatcherOptions? options = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _options = options ?? new DynamicBatcherOptions();
        _options.Validate();
        _model = model;
        _time = time ?? TimeProvider.System;
        _slots = new SemaphoreSlim(_options.ConcurrentBatches, _options.ConcurrentBatches);
        _queue = Channel.CreateBounded<Request>(new BoundedChannelOptions(_options.MaxQueued)
        {
            SingleReader = false, // the forming loop, and a runner that goes straight on with a full batch
            FullMode = BoundedChannelFullMode.Wait,
        });
        _loop = Task.Run(FormBatchesAsync);
    }

    public DynamicBatcherOptions Options => _options;

    /// <summary>Batches run so far.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Inputs run so far.</summary>
    public long Items => Interlocked.Read(ref _images);

    /// <summary>Submissions cancelled before their batch started (left out of it).</summary>
    public long CancelledBeforeRun => Interlocked.Read(ref _cancelled);

    /// <summary>Inputs in the queue, not yet taken into a batch.</summary>
    public int Queued => _queue.Reader.Count;

    /// <summary>Runs one input as part of a batch.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was cancelled first.</exception>
    /// <exception cref="ObjectDisposedException">The batcher is disposed.</exception>
    public async Task<TResult> SubmitAsync(TInput image, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(image);
        ct.ThrowIfCancellationRequested();
        var request = new Request(image, _time.GetTimestamp(), System.Diagnostics.Activity.Current?.Context ?? default);
        try
        {
            await _queue.Writer.WriteAsync(request, ct).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw new ObjectDisposedException(GetType().Name);
        }
        if (!ct.CanBeCanceled) return await request.Completion.Task.ConfigureAwait(false);
        using (ct.UnsafeRegister(static (state, token) => ((Request)state!).Completion.TrySetCanceled(token), request))
            return await request.Completion.Task.ConfigureAwait(false);
    }

    private async Task FormBatchesAsync()
    {
        var reader = _queue.Reader;
        while (true)
        {
            await _slots.WaitAsync().ConfigureAwait(false);
            var batch = RentBatch();
            try
            {
                if (!await reader.WaitToReadAsync().ConfigureAwait(false))
                {
                    ReturnBatch(batch);
                    _slots.Release();
                    return; // completed and drained
                }
                Take(reader, batch);
                if (batch.Count < _options.MaxBatchSize && _options.MaxQueueDelay > TimeSpan.Zero)
                    await GatherUntilDeadlineAsync(reader, batch).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                batch.Fail(e);
                ReturnBatch(batch);
                _slots.Release();
                continue;
            }
            if (batch.Count == 0)
            {
                ReturnBatch(batch);
                _slots.Release();
                continue;
            }
            _ = Task.Run(() => RunBatch(batch));
        }
    }

    // Waits for more images until the batch is full or the window that opened with its first image closes.
    private async Task GatherUntilDeadlineAsync(ChannelReader<Request> reader, Batch batch)
    {
        using var window = new CancellationTokenSource(_options.MaxQueueDelay, _time);
        while (batch.Count < _options.MaxBatchSize)
        {
            Task<bool> more = reader.WaitToReadAsync(window.Token).AsTask();
            await ((Task)more).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!more.IsCompletedSuccessfully || !more.Result) return; // window closed, or queue completed
            Take(reader, batch);
        }
    }

    private void Take(ChannelReader<Request> reader, Batch batch)
    {
        while (batch.Count < _options.MaxBatchSize && reader.TryRead(out var request))
        {
            if (request.Completion.Task.IsCompleted) Interlocked.Increment(ref _cancelled); // cancelled while queued
            else batch.Add(request);
        }
    }

    // Runs the batch, then — while a full batch is already waiting — goes straight on with it in the same
    // thread and slot: under load that saves two thread hand-offs per batch (loop wake-up, dispatch).
    private void RunBatch(Batch batch)
    {
        try
        {
            while (true)
            {
                RunOne(batch);
                batch.Clear();
                if (_queue.Reader.Count < _options.MaxBatchSize) break;
                Take(_queue.Reader, batch); // may come back short if the forming loop took some first: run those anyway
                if (batch.Count == 0) break;
            }
        }
        finally
        {
            ReturnBatch(batch);
            _slots.Release();
        }
    }

    private void RunOne(Batch batch)
    {
        long now = _time.GetTimestamp();
        batch.DropCancelled(ref _cancelled);
        if (batch.Count == 0) return;
        foreach (var request in batch.Requests)
            InferenceTelemetry.QueueWait.Record(_time.GetElapsedTime(request.Submitted, now).TotalSeconds);
        InferenceTelemetry.BatchSize.Record(batch.Count);
        IReadOnlyList<TResult> scores;
        // One span per batch, linked to the span of every upload in it (a batch has many parents).
        using var span = InferenceTelemetry.Source.HasListeners()
            ? InferenceTelemetry.Source.StartActivity("inference batch", System.Diagnostics.ActivityKind.Internal, default(System.Diagnostics.ActivityContext),
                links: batch.Requests.Where(r => r.Caller != default).Select(r => new System.Diagnostics.ActivityLink(r.Caller)))
            : null;
        span?.SetTag("moderation.batch.size", batch.Count);
        span?.SetTag("moderation.model_version", _model.Model);
        span?.SetTag("moderation.device", _model.Device);
        try
        {
            long inferenceStarted = _time.GetTimestamp();
            scores = _model.Run(batch.Images);
            InferenceTelemetry.Duration.Record(_time.GetElapsedTime(inferenceStarted).TotalSeconds,
                new KeyValuePair<string, object?>("model", _model.Model), new KeyValuePair<string, object?>("device", _model.Device));
            if (scores.Count != batch.Count)
                throw new InvalidOperationException($"the classifier returned {scores.Count} results for {batch.Count} images");
        }
        catch (Exception e)
        {
            span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, e.Message);
            batch.Fail(e);
            return;
        }
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _images, batch.Count);
        for (int i = 0; i < batch.Count; i++) batch.Requests[i].Completion.TrySetResult(scores[i]);
    }

    private Batch RentBatch()
    {
        lock (_idleBatches) return _idleBatches.TryPop(out var batch) ? batch : new Batch(_options.MaxBatchSize);
    }

    private void ReturnBatch(Batch batch)
    {
        batch.Clear();
        lock (_idleBatches) _idleBatches.Push(batch);
    }

    /// <summary>Refuses new submissions, runs the queued ones, waits for running batches.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(false);
        for (int i = 0; i < _options.ConcurrentBatches; i++) await _slots.WaitAsync().ConfigureAwait(false);
        _slots.Dispose();
    }

    private sealed class Request(TInput image, long submitted, System.Diagnostics.ActivityContext caller)
    {
        public TInput Image { get; } = image;
        public long Submitted { get; } = submitted;

        /// <summary>The submitter's span: the batch span links to it.</summary>
        public System.Diagnostics.ActivityContext Caller { get; } = caller;
        public TaskCompletionSource<TResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Batch(int capacity)
    {
        public List<Request> Requests { get; } = new(capacity);
        public List<TInput> Images { get; } = new(capacity);
        public int Count => Requests.Count;

        public void Add(Request request)
        {
            Requests.Add(request);
            Images.Add(request.Image);
        }

        public void DropCancelled(ref long cancelled)
        {
            for (int i = Requests.Count - 1; i >= 0; i--)
            {
                if (!Requests[i].Completion.Task.IsCompleted) continue;
                Requests.RemoveAt(i);
                Images.RemoveAt(i);
                Interlocked.Increment(ref cancelled);
            }
        }

        public void Fail(Exception e)
        {
            foreach (var request in Requests) request.Completion.TrySetException(e);
        }

        public void Clear()
        {
            Requests.Clear();
            Images.Clear();
        }
    }
}
