namespace Moderation.Streams.Inference.Tests;

/// <summary>Batching semantics of <see cref="DynamicBatcher"/> on a fake clock: size, delay, cancellation, backpressure.</summary>
public sealed class DynamicBatcherTests
{
    private static DynamicBatcherOptions Options(int maxBatch = 4, int delayMs = 10, int maxQueued = 64, int concurrent = 1) => new()
    {
        MaxBatchSize = maxBatch,
        MaxQueueDelay = TimeSpan.FromMilliseconds(delayMs),
        MaxQueued = maxQueued,
        ConcurrentBatches = concurrent,
    };

    private static Task<ClassScores> Submit(DynamicBatcher batcher, int id) =>
        batcher.ClassifyAsync(FakeClassifier.Image(id), TestContext.Current.CancellationToken);

    [Fact]
    public async Task A_full_batch_runs_at_once_without_the_clock_moving()
    {
        using var classifier = new FakeClassifier();
        var time = new CountingFakeTime();
        await using var batcher = new DynamicBatcher(classifier, Options(maxBatch: 4), time);

        var tasks = Enumerable.Range(1, 4).Select(i => Submit(batcher, i)).ToArray();
        var scores = await Task.WhenAll(tasks);

        Assert.Equal([4], classifier.Batches.Select(b => b.Length));
        Assert.Equal([1f, 2f, 3f, 4f], scores.Select(s => s.Values[0]));
    }

    [Fact]
    public async Task A_partial_batch_waits_for_the_queue_delay_and_then_runs_with_what_it_has()
    {
        using var classifier = new FakeClassifier();
        var time = new CountingFakeTime();
        await using var batcher = new DynamicBatcher(classifier, Options(maxBatch: 4, delayMs: 10), time);

        var first = new[] { Submit(batcher, 1), Submit(batcher, 2) };
        await Eventually.True(() => time.TimersCreated == 1, "the batch window opened");
        time.Advance(TimeSpan.FromMilliseconds(9));
        // One millisecond before the deadline the window is still open: two more images join the same batch.
        var more = new[] { Submit(batcher, 3), Submit(batcher, 4) };
        await Task.WhenAll(first.Concat(more));
        Assert.Equal([[1, 2, 3, 4]], classifier.Batches);

        var late = new[] { Submit(batcher, 5), Submit(batcher, 6) };
        await Eventually.True(() => time.TimersCreated == 2, "the second batch window opened");
        Assert.False(late[0].IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(10));
        var scores = await Task.WhenAll(late);

        Assert.Equal([[1, 2, 3, 4], [5, 6]], classifier.Batches);
        Assert.Equal([5f, 6f], scores.Select(s => s.Values[0]));
    }

    [Fact]
    public async Task With_no_queue_delay_whatever_is_waiting_runs_immediately()
    {
        using var classifier = new FakeClassifier();
        var time = new CountingFakeTime();
        await using var batcher = new DynamicBatcher(classifier, Options(maxBatch: 8, delayMs: 0), time);

        var score = await Submit(batcher, 7);

        Assert.Equal(7f, score.Values[0]);
        Assert.Equal(0, time.TimersCreated);
    }

    [Fact]
    public async Task While_the_only_batch_slot_is_busy_arrivals_gather_into_the_next_batch_up_to_the_maximum()
    {
        using var classifier = new FakeClassifier(open: false);
        var time = new CountingFakeTime();
        await using var batcher = new DynamicBatcher(classifier, Options(maxBatch: 3, delayMs: 0), time);

        var running = Submit(batcher, 1);
        await Eventually.True(() => classifier.Running == 1, "the first batch started");
        var waiting = Enumerable.Range(2, 5).Select(i => Submit(batcher, i)).ToArray();
        Assert.Equal(5, batcher.Queued);
        classifier.Open();
        await Task.WhenAll(waiting.Append(running));

        Assert.Equal([[1], [2, 3, 4], [5, 6]], classifier.Batches);
        Assert.Equal(3, batcher.Batches);
        Assert.Equal(6, batcher.Images);
    }

    [Fact]
    public async Task Up_to_ConcurrentBatches_batches_run_at_once_and_no_more()
    {
        using var classifier = new FakeClassifier(open: false);
        await using var batcher = new DynamicBatcher(classifier, Options(maxBatch: 1, delayMs: 0, concurrent: 2), new CountingFakeTime());

        var tasks = Enumerable.Range(1, 3).Select(i => Submit(batcher, i)).ToArray();
        await Eventually.True(() => classifier.Running == 2, "two batches run together");
        Assert.Equal(1, batcher.Queued); // the third waits for a slot
        classifier.Open();
        await Task.WhenAll(tasks);

        Assert.Equal(2, classifier.MostRunningAtOnce);
        Assert.Equal(3, classifier.Batches.Count);
    }

    [Fact]
    public async Task A_caller_that_cancels_while_queued_is_answered_at_once_and_left_out_of_the_batch()
    {
        using var classifier = new FakeClassifier(open: false);
        await using var batcher = new DynamicBatcher(classifier, Options(maxBatch: 4, delayMs: 0), new CountingFakeTime());
        var blocker = Submit(batcher, 1);
        await Eventually.True(() => classifier.Running == 1, "the first batch started");

        using var cancel = new CancellationTokenSource();
        var cancelled = batcher.ClassifyAsync(FakeClassifier.Image(2), cancel.Token);
        var kept = Submit(batcher, 3);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.False(kept.IsCompleted);
        classifier.Open();
        Assert.Equal(3f, (await kept).Values[0]);
        Assert.Equal([[1], [3]], classifier.Batches);
        Assert.Equal(1, batcher.CancelledBeforeRun);
        await blocker;
    }

    [Fact]
    public async Task A_full_queue_holds_submitters_at_the_door_until_there_is_room_and_they_can_give_up_waiting()
    {
        using var classifier = new FakeClassifier(open: false);
        await using var batcher = new DynamicBatcher(classifier, Options(maxBatch: 1, delayMs: 0, maxQueued: 2), new CountingFakeTime());
        var running = Submit(batcher, 1);
        await Eventually.True(() => classifier.Running == 1, "the first batch started");
        var queued = new[] { Submit(batcher, 2), Submit(batcher, 3) };
        Assert.Equal(2, batcher.Queued);

        using var giveUp = new CancellationTokenSource();
        var heldBack = batcher.ClassifyAsync(FakeClassifier.Image(4), giveUp.Token);
        var heldBackToo = Submit(batcher, 5);
        Assert.Equal(2, batcher.Queued); // not queued: the memory stays bounded
        Assert.False(heldBack.IsCompleted);
        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => heldBack);

        classifier.Open();
        await Task.WhenAll(queued.Append(running).Append(heldBackToo));
        Assert.Equal([[1], [2], [3], [5]], classifier.Batches);
    }

    [Fact]
    public async Task A_failing_batch_fails_its_callers_and_the_next_batch_runs()
    {
        using var classifier = new FakeClassifier { Throw = new InvalidOperationException("model broke") };
        await using var batcher = new DynamicBatcher(classifier, Options(maxBatch: 2, delayMs: 0), new CountingFakeTime());

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Submit(batcher, 1));
        Assert.Equal("model broke", error.Message);

        classifier.Throw = null;
        Assert.Equal(2f, (await Submit(batcher, 2)).Values[0]);
    }

    [Fact]
    public async Task Disposing_runs_what_is_queued_then_refuses_new_work()
    {
        using var classifier = new FakeClassifier(open: false);
        var batcher = new DynamicBatcher(classifier, Options(maxBatch: 2, delayMs: 0), new CountingFakeTime());
        var running = Submit(batcher, 1);
        await Eventually.True(() => classifier.Running == 1, "the first batch started");
        var queued = new[] { Submit(batcher, 2), Submit(batcher, 3) };

        var disposing = batcher.DisposeAsync().AsTask();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => Submit(batcher, 4));
        Assert.False(disposing.IsCompleted);
        classifier.Open();
        await disposing;

        // Every image queued before disposal was classified.
        Assert.Equal([1f, 2f, 3f], (await Task.WhenAll(queued.Prepend(running))).Select(s => s.Values[0]));
        Assert.Equal([[1], [2, 3]], classifier.Batches);
    }

    [Fact]
    public void Nonsense_options_are_refused()
    {
        using var classifier = new FakeClassifier();
        Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicBatcher(classifier, Options(maxBatch: 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicBatcher(classifier, Options(maxQueued: 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicBatcher(classifier, Options(concurrent: 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DynamicBatcher(classifier, Options(delayMs: -1)));
    }
}
