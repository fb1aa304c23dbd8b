using Microsoft.Extensions.Time.Testing;
using Moderation.Streams.Contracts;
using Moderation.Streams.Redis.Uploaders;

namespace Moderation.Streams.Redis.Tests.Uploaders;

/// <summary><see cref="UploaderCountBatcher"/> by behaviour, on a fake clock and a store whose calls the test answers:
/// a lone upload goes at once, uploads decided while a count is in flight go together, none waits past the window, a
/// failed batch fails each of its uploads, and each gets its own answer.</summary>
public sealed class UploaderCountBatcherTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly PolicyUploaders Rules = UploaderTestRules.Rules;

    /// <summary>A store whose every call waits until the test answers it; it answers each upload with a velocity taken from
    /// its content id (<c>c-N</c> → N), so a mixed-up answer shows.</summary>
    private sealed class HeldStore(bool batches = true) : IUploaderState
    {
        private readonly Lock _gate = new();
        private readonly List<(IReadOnlyList<UploaderCount> Requests, TaskCompletionSource Release)> _calls = [];

        public bool CountsInBatches => batches;
        public int Singles { get; private set; }

        public IReadOnlyList<IReadOnlyList<UploaderCount>> Calls
        {
            get
            {
                lock (_gate) return _calls.ConvertAll(c => c.Requests);
            }
        }

        public Exception? Failure { get; set; }

        public async Task<IReadOnlyList<UploaderSignal>> CountManyAsync(IReadOnlyList<UploaderCount> requests, CancellationToken ct)
        {
            var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_gate) _calls.Add((requests, release));
            await release.Task;
            if (Failure is { } failure) throw failure;
            return [.. requests.Select(r => new UploaderSignal { Velocity = int.Parse(r.ContentId[2..], System.Globalization.CultureInfo.InvariantCulture) })];
        }

        public Task<UploaderSignal> CountAsync(UploaderCount request, CancellationToken ct)
        {
            Singles++;
            return Task.FromResult(new UploaderSignal { Velocity = -1 });
        }

        public void Release(int call)
        {
            lock (_gate) _calls[call].Release.SetResult();
        }

        public Task RecordStrikeAsync(string uploader, string contentId, TimeSpan window, CancellationToken ct) => Task.CompletedTask;
    }

    private static UploaderCount Upload(int n, string uploader = "u-1") => new($"c-{n}", uploader, null, Rules);

    /// <summary>Waits (hang guard only) until the store has seen <paramref name="calls"/> calls.</summary>
    private static async Task CallsReach(HeldStore store, int calls)
    {
        using var guard = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        guard.CancelAfter(TimeSpan.FromSeconds(10));
        while (store.Calls.Count < calls) await Task.Delay(1, guard.Token);
    }

    [Fact]
    public async Task A_lone_upload_is_sent_at_once_without_the_clock_moving()
    {
        var time = new FakeTimeProvider();
        var store = new HeldStore();
        var batcher = new UploaderCountBatcher(store, TimeSpan.FromMilliseconds(5), 32, time);
        var answer = batcher.CountAsync(Upload(7), Ct);
        Assert.Equal(["c-7"], Assert.Single(store.Calls).Select(r => r.ContentId));
        store.Release(0);
        Assert.Equal(7, (await answer).Velocity);
    }

    [Fact]
    public async Task Uploads_decided_while_a_count_is_in_flight_go_together_when_it_returns_each_with_its_own_answer()
    {
        var time = new FakeTimeProvider();
        var store = new HeldStore();
        var batcher = new UploaderCountBatcher(store, TimeSpan.FromMilliseconds(5), 32, time);
        var first = batcher.CountAsync(Upload(1), Ct);
        var queued = Enumerable.Range(2, 5).Select(i => batcher.CountAsync(Upload(i, $"u-{i % 3}"), Ct)).ToArray();
        Assert.Single(store.Calls); // the others wait for the one in flight
        store.Release(0);
        Assert.Equal(1, (await first).Velocity);
        await CallsReach(store, 2);
        Assert.Equal(["c-2", "c-3", "c-4", "c-5", "c-6"], store.Calls[1].Select(r => r.ContentId));
        store.Release(1);
        Assert.Equal([2, 3, 4, 5, 6], (await Task.WhenAll(queued)).Select(s => s.Velocity!.Value));
        Assert.Equal(2, batcher.Batches);
    }

    [Fact]
    public async Task A_queued_upload_waits_no_longer_than_the_window_for_the_count_in_flight()
    {
        var time = new FakeTimeProvider();
        var store = new HeldStore();
        var batcher = new UploaderCountBatcher(store, TimeSpan.FromMilliseconds(5), 32, time);
        _ = batcher.CountAsync(Upload(1), Ct); // never answered: a store that hangs
        var second = batcher.CountAsync(Upload(2), Ct);
        time.Advance(TimeSpan.FromMilliseconds(4));
        Assert.Single(store.Calls);
        var third = batcher.CountAsync(Upload(3), Ct); // joins the queue; the window runs from the oldest queued upload
        time.Advance(TimeSpan.FromMilliseconds(1));
        await CallsReach(store, 2);
        Assert.Equal(["c-2", "c-3"], store.Calls[1].Select(r => r.ContentId));
        store.Release(1);
        Assert.Equal((2, 3), ((await second).Velocity!.Value, (await third).Velocity!.Value));
    }

    [Fact]
    public async Task A_full_batch_goes_at_once_and_the_rest_wait_for_their_turn()
    {
        var time = new FakeTimeProvider();
        var store = new HeldStore();
        var batcher = new UploaderCountBatcher(store, TimeSpan.FromMilliseconds(5), 3, time);
        var all = Enumerable.Range(1, 5).Select(i => batcher.CountAsync(Upload(i), Ct)).ToArray();
        // c-1 alone (nothing in flight), then c-2..c-4 as soon as three are queued; c-5 waits.
        Assert.Equal([["c-1"], ["c-2", "c-3", "c-4"]], store.Calls.Select(c => c.Select(r => r.ContentId).ToArray()));
        store.Release(0);
        store.Release(1);
        await CallsReach(store, 3);
        Assert.Equal(["c-5"], store.Calls[2].Select(r => r.ContentId));
        store.Release(2);
        Assert.Equal([1, 2, 3, 4, 5], (await Task.WhenAll(all)).Select(s => s.Velocity!.Value));
    }

    [Fact]
    public async Task A_failed_batch_fails_each_of_its_uploads_and_the_next_upload_is_sent()
    {
        var time = new FakeTimeProvider();
        var store = new HeldStore();
        var batcher = new UploaderCountBatcher(store, TimeSpan.FromMilliseconds(5), 32, time);
        var first = batcher.CountAsync(Upload(1), Ct);
        var queued = new[] { batcher.CountAsync(Upload(2), Ct), batcher.CountAsync(Upload(3, "u-2"), Ct) };
        store.Failure = new StoreUnavailableException("connection refused");
        store.Release(0);
        await Assert.ThrowsAsync<StoreUnavailableException>(() => first);
        await CallsReach(store, 2);
        store.Release(1);
        foreach (var upload in queued) Assert.Same(store.Failure, await Assert.ThrowsAsync<StoreUnavailableException>(() => upload));
        store.Failure = null;
        var later = batcher.CountAsync(Upload(4), Ct);
        await CallsReach(store, 3);
        store.Release(2);
        Assert.Equal(4, (await later).Velocity);
    }

    [Fact]
    public async Task A_caller_that_gives_up_stops_waiting_and_the_others_of_its_batch_are_answered()
    {
        var time = new FakeTimeProvider();
        var store = new HeldStore();
        var batcher = new UploaderCountBatcher(store, TimeSpan.FromMilliseconds(5), 32, time);
        var first = batcher.CountAsync(Upload(1), Ct);
        using var giveUp = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var leaving = batcher.CountAsync(Upload(2), giveUp.Token);
        var staying = batcher.CountAsync(Upload(3), Ct);
        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leaving);
        store.Release(0);
        await first;
        await CallsReach(store, 2);
        store.Release(1);
        Assert.Equal(3, (await staying).Velocity);
    }

    [Fact]
    public async Task A_store_that_counts_one_call_each_anyway_is_called_directly()
    {
        var store = new HeldStore(batches: false);
        var batcher = new UploaderCountBatcher(store, TimeSpan.FromMilliseconds(5), 32, new FakeTimeProvider());
        Assert.Equal(-1, (await batcher.CountAsync(Upload(1), Ct)).Velocity);
        Assert.Equal(-1, (await batcher.CountAsync(Upload(2), Ct)).Velocity);
        Assert.Equal((2, 0), (store.Singles, store.Calls.Count));
    }

    [Fact]
    public void Limits_are_checked()
    {
        var store = new HeldStore();
        Assert.Throws<ArgumentOutOfRangeException>(() => new UploaderCountBatcher(store, TimeSpan.FromMilliseconds(-1), 32));
        Assert.Throws<ArgumentOutOfRangeException>(() => new UploaderCountBatcher(store, TimeSpan.FromSeconds(2), 32));
        Assert.Throws<ArgumentOutOfRangeException>(() => new UploaderCountBatcher(store, TimeSpan.Zero, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new UploaderCountBatcher(store, TimeSpan.Zero, UploaderCountBatcher.MaxBatchLimit + 1));
    }
}
