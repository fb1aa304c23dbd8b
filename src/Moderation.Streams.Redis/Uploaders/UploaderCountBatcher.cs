using Moderation.Streams.Contracts;

namespace Moderation.Streams.Redis.Uploaders;

/// <summary>
/// Counts the uploads that are decided together in one call of the store (<see cref="IUploaderState.CountManyAsync"/>:
/// one script on one server) instead of one call each, which is most of a count's cost in the worker. An upload that
/// arrives while no count is in flight is sent at once, alone: a lone upload never waits. Uploads that arrive while one is
/// in flight queue and go together when it returns, at most <see cref="MaxBatch"/> in one call (a full batch goes at once);
/// none waits in the queue longer than <see cref="Window"/> (then what is queued is sent, whatever is in flight). Each
/// upload gets its own answer, as if counted alone in the batch's order; a batch that fails fails each of its uploads
/// with the store's <see cref="StoreUnavailableException"/> (the caller fails it closed). A store that counts one call
/// each anyway (<see cref="IUploaderState.CountsInBatches"/> false: a cluster, no scripts) is called directly.
/// </summary>
public sealed class UploaderCountBatcher : IUploaderState
{
    /// <summary>The longest <see cref="Window"/> accepted: the queue is a latency cost on every upload that waits in it.</summary>
    public static readonly TimeSpan MaxWindow = TimeSpan.FromSeconds(1);

    /// <summary>The most uploads <see cref="MaxBatch"/> accepts (one script's keys: 22 each).</summary>
    public const int MaxBatchLimit = 1024;

    private readonly IUploaderState _inner;
    private readonly ITimer _timer;
    private readonly Lock _gate = new();
    private readonly List<Pending> _queue = [];
    private int _inFlight;
    private bool _timerArmed;

    /// <param name="inner">The store that counts (<see cref="RedisUploaderState"/>).</param>
    /// <param name="window">The longest an upload waits in the queue for a count in flight (0 to <see cref="MaxWindow"/>).</param>
    /// <param name="maxBatch">The most uploads counted in one call (1 to <see cref="MaxBatchLimit"/>; 1: no batching).</param>
    public UploaderCountBatcher(IUploaderState inner, TimeSpan window, int maxBatch, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentOutOfRangeException.ThrowIfLessThan(window, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(window, MaxWindow);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBatch, MaxBatchLimit);
        _inner = inner;
        Window = window;
        MaxBatch = maxBatch;
        _timer = (time ?? TimeProvider.System).CreateTimer(static s => ((UploaderCountBatcher)s!).WindowElapsed(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The longest an upload waits in the queue before it is sent.</summary>
    public TimeSpan Window { get; }

    /// <summary>The most uploads counted in one call.</summary>
    public int MaxBatch { get; }

    /// <summary>Calls to the store so far (one per batch), for tests and metrics.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    private long _batches;

    /// <summary>The batcher batches itself: a caller gains nothing by holding counts for it.</summary>
    public bool CountsInBatches => false;

    public Task<UploaderSignal> CountAsync(UploaderCount request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (MaxBatch == 1 || !_inner.CountsInBatches) return _inner.CountAsync(request, ct);
        ct.ThrowIfCancellationRequested();
        var pending = new Pending(request, new TaskCompletionSource<UploaderSignal>(TaskCreationOptions.RunContinuationsAsynchronously));
        List<Pending>? send = null;
        lock (_gate)
        {
            _queue.Add(pending);
            if (_inFlight == 0 || _queue.Count >= MaxBatch) send = Take();
            else if (!_timerArmed)
            {
                _timerArmed = true;
                _timer.Change(Window, Timeout.InfiniteTimeSpan);
            }
        }
        if (send is not null) _ = SendAsync(send);
        // The caller stops waiting when it is cancelled; its upload is still counted with its batch (idempotent by content id).
        return pending.Done.Task.WaitAsync(ct);
    }

    /// <summary>Sent on as it is: the caller already holds a batch.</summary>
    public Task<IReadOnlyList<UploaderSignal>> CountManyAsync(IReadOnlyList<UploaderCount> requests, CancellationToken ct) => _inner.CountManyAsync(requests, ct);

    public Task RecordStrikeAsync(string uploader, string contentId, TimeSpan window, CancellationToken ct) => _inner.RecordStrikeAsync(uploader, contentId, window, ct);

    /// <summary>Under the lock: the oldest queued uploads, up to <see cref="MaxBatch"/>, as one call in flight.</summary>
    private List<Pending> Take()
    {
        int n = Math.Min(MaxBatch, _queue.Count);
        var batch = _queue.GetRange(0, n);
        _queue.RemoveRange(0, n);
        _inFlight++;
        if (_queue.Count == 0 && _timerArmed)
        {
            _timerArmed = false;
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
        return batch;
    }

    /// <summary>The oldest queued upload has waited <see cref="Window"/>: what is queued goes now.</summary>
    private void WindowElapsed()
    {
        var batches = new List<List<Pending>>();
        lock (_gate)
        {
            _timerArmed = false;
            while (_queue.Count > 0) batches.Add(Take());
        }
        foreach (var batch in batches) _ = SendAsync(batch);
    }

    private async Task SendAsync(List<Pending> batch)
    {
        Interlocked.Increment(ref _batches);
        try
        {
            // Not the callers' tokens: one caller giving up must not fail the others; the store's own timeouts bound the call.
            var signals = await _inner.CountManyAsync(batch.ConvertAll(p => p.Request), CancellationToken.None).ConfigureAwait(false);
            for (int i = 0; i < batch.Count; i++) batch[i].Done.TrySetResult(signals[i]);
        }
        catch (Exception e)
        {
            foreach (var pending in batch) pending.Done.TrySetException(e);
        }
        List<Pending>? next = null;
        lock (_gate)
        {
            _inFlight--;
            if (_inFlight == 0 && _queue.Count > 0) next = Take();
        }
        if (next is not null) _ = Task.Run(() => SendAsync(next));
    }

    private sealed record Pending(UploaderCount Request, TaskCompletionSource<UploaderSignal> Done);
}
