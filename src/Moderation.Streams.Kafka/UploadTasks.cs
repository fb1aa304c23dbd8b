namespace Moderation.Streams.Kafka;

/// <summary>
/// The upload tasks of a consume loop (the handler's work, then publishing its outcome), kept for an orderly stop:
/// each runs with <see cref="Token"/>, which a stop after a failure cancels (<see cref="CancelAsync"/>), and
/// <see cref="Idle"/> completes once the loop has stopped publishing (<see cref="Close"/>) and no task is left.
/// </summary>
internal sealed class UploadTasks(Action<Exception> fail)
{
    // Never disposed: tasks that outlive the loop may still read the token.
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _running, _closed;

    public CancellationToken Token => _stop.Token;

    /// <summary>Upload tasks not yet ended.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>Completes after <see cref="Close"/> once no upload task is running any more.</summary>
    public Task Idle => _idle.Task;

    /// <summary>Runs <paramref name="work"/> on the thread pool; what it throws goes to <c>fail</c>.</summary>
    public void Start(Func<CancellationToken, Task> work)
    {
        Interlocked.Increment(ref _running);
        _ = Task.Run(async () =>
        {
            try
            {
                await work(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                fail(e);
            }
            finally
            {
                if (Interlocked.Decrement(ref _running) == 0 && Volatile.Read(ref _closed) != 0) _idle.TrySetResult();
            }
        });
    }

    /// <summary>The loop publishes nothing more (its producer gate is shut): <see cref="Idle"/> completes once no task is left.</summary>
    public void Close()
    {
        Interlocked.Exchange(ref _closed, 1);
        if (Running == 0) _idle.TrySetResult();
    }

    /// <summary>Cancels the tasks' token (they are abandoned: nothing they finish is published after <see cref="Close"/>).</summary>
    public void Cancel() => _stop.Cancel();

    /// <summary>After a failure, once <see cref="Close"/>d: cancels the tasks and waits at most <paramref name="timeout"/>
    /// (on <paramref name="time"/>) for them to end. Returns how many are still running (abandoned).</summary>
    public async Task<int> CancelAsync(TimeSpan timeout, TimeProvider time)
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _idle.Task.WaitAsync(timeout, time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        return Running;
    }
}
