namespace Moderation.Streams.Kafka.Tests;

/// <summary>
/// Waiting for state that has no signal of its own (a consumer's counters, a partition pause): the condition is
/// checked at every tick until it holds, <c>unless</c> ends (a run that stopped early will not make it true), or the
/// deadline passes. The deadline only bounds a hang; it is never a timing assertion. Where a signal exists (a
/// <see cref="TaskCompletionSource"/>, <see cref="UploadConsumer.Idle"/>), await it instead.
/// </summary>
internal static class Eventually
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(20);

    /// <returns>Whether <paramref name="condition"/> holds at the end.</returns>
    public static async Task<bool> Holds(Func<bool> condition, Task? unless = null, TimeSpan? deadline = null)
    {
        var ct = TestContext.Current.CancellationToken;
        using var timer = new PeriodicTimer(Tick);
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(deadline ?? Deadline);
        try
        {
            while (!condition() && unless?.IsCompleted != true) await timer.WaitForNextTickAsync(bounded.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
        }
        return condition();
    }

    /// <summary>Runs the consumer until <paramref name="done"/> holds (or the run ends by itself), then stops it
    /// like SIGTERM and waits for the run to end.</summary>
    public static async Task RunUntil(UploadConsumer consumer, Func<bool> done)
    {
        using var stop = new CancellationTokenSource();
        var run = Task.Run(() => consumer.RunAsync(stop.Token), TestContext.Current.CancellationToken);
        await Holds(done, run);
        await stop.CancelAsync();
        await run;
    }
}
