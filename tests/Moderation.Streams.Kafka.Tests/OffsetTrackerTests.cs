using Confluent.Kafka;
using Moderation.Streams.Kafka;

namespace Moderation.Streams.Kafka.Tests;

public class OffsetTrackerTests
{
    private static readonly TopicPartition P0 = new("uploads", 0);
    private static readonly TopicPartition P1 = new("uploads", 1);

    [Fact]
    public void Out_of_order_completions_never_commit_past_a_gap()
    {
        var tracker = new OffsetTracker();
        for (long o = 10; o < 15; o++) tracker.Begin(P0, o);
        Assert.Null(tracker.Complete(P0, 12));
        Assert.Null(tracker.Complete(P0, 14));
        Assert.Equal(11, tracker.Complete(P0, 10));
        Assert.Equal(13, tracker.Complete(P0, 11));
        Assert.Equal(15, tracker.Complete(P0, 13));
        Assert.Equal(0, tracker.InFlight);
        Assert.Equal(15, tracker.CommittableOffset(P0));
    }

    [Fact]
    public void Uploads_finished_behind_an_unfinished_one_count_as_uncommitted_until_it_finishes()
    {
        var tracker = new OffsetTracker();
        for (long o = 10; o < 15; o++) tracker.Begin(P0, o);
        Assert.Null(tracker.Complete(P0, 12));
        Assert.Null(tracker.Complete(P0, 14));
        Assert.Equal(5, tracker.UncommittedIn(P0));   // 10, 11, 13 in flight; 12, 14 held back behind 10
        Assert.Equal(11, tracker.Complete(P0, 10));
        Assert.Equal(4, tracker.UncommittedIn(P0));
        Assert.Equal(13, tracker.Complete(P0, 11));   // 12 becomes committable with it
        Assert.Equal(2, tracker.UncommittedIn(P0));
        Assert.Equal(15, tracker.Complete(P0, 13));
        Assert.Equal(0, tracker.UncommittedIn(P0));
        Assert.Equal(0, tracker.UncommittedIn(P1));
    }

    [Fact]
    public void Partitions_are_tracked_independently()
    {
        var tracker = new OffsetTracker();
        tracker.Begin(P0, 0);
        tracker.Begin(P1, 100);
        tracker.Begin(P0, 1);
        Assert.Equal(101, tracker.Complete(P1, 100));
        Assert.Null(tracker.Complete(P0, 1));
        Assert.Equal(1, tracker.InFlight);
        Assert.Null(tracker.CommittableOffset(P0));
        Assert.Equal(2, tracker.Complete(P0, 0));
    }

    [Fact]
    public void Completions_of_a_forgotten_partition_are_ignored()
    {
        var tracker = new OffsetTracker();
        tracker.Begin(P0, 5);
        tracker.Begin(P0, 6);
        tracker.Forget(P0);
        Assert.Equal(0, tracker.InFlight);
        Assert.Null(tracker.Complete(P0, 5));
        Assert.Equal(0, tracker.PendingIn(P0));
    }

    [Fact]
    public void Dispatching_an_offset_twice_is_a_bug_that_is_refused()
    {
        var tracker = new OffsetTracker();
        tracker.Begin(P0, 5);
        Assert.Throws<InvalidOperationException>(() => tracker.Begin(P0, 5));
    }

    [Fact]
    public void Random_completion_orders_always_commit_the_lowest_unfinished_offset()
    {
        var random = new Random(7);
        for (int round = 0; round < 200; round++)
        {
            var tracker = new OffsetTracker();
            int n = random.Next(1, 50);
            for (long o = 0; o < n; o++) tracker.Begin(P0, o);
            var order = Enumerable.Range(0, n).OrderBy(_ => random.Next()).ToList();
            var done = new HashSet<long>();
            long committed = 0;
            foreach (var o in order)
            {
                done.Add(o);
                var stored = tracker.Complete(P0, o);
                long lowestUnfinished = Enumerable.Range(0, n + 1).First(x => x == n || !done.Contains(x));
                if (stored is not null) committed = stored.Value;
                Assert.Equal(lowestUnfinished, committed);
            }
            Assert.Equal(n, committed);
        }
    }
}

public class DeadLetterTests
{
    private static ConsumeResult<byte[]?, byte[]?> Upload(byte[] value) => new()
    {
        Topic = "uploads", Partition = 2, Offset = 7,
        Message = new Message<byte[]?, byte[]?> { Key = "k"u8.ToArray(), Value = value, Headers = new Headers { { "traceparent", "t"u8.ToArray() } } },
    };

    [Fact]
    public void A_dlq_record_keeps_the_original_bytes_and_headers_and_adds_the_contract_headers()
    {
        // The upload's headers are kept under moderation.original.*: only the worker's own headers carry contract names.
        var record = DeadLetter.Create("moderation.dlq", Upload("{bad"u8.ToArray()), "invalid-event", "malformed");
        Assert.Equal("{bad"u8.ToArray(), record.Value);
        Assert.Equal("k"u8.ToArray(), record.Key);
        string H(string n) => System.Text.Encoding.UTF8.GetString(record.Headers.GetLastBytes(n));
        Assert.Equal(("t", "invalid-event", "malformed", "uploads", "2", "7"),
            (H(DeadLetter.OriginalHeaderPrefix + "traceparent"), H("moderation.error.code"), H("moderation.error.message"), H("moderation.source.topic"), H("moderation.source.partition"), H("moderation.source.offset")));
        Assert.False(record.Headers.TryGetLastBytes(DeadLetter.TruncatedHeader, out _));
    }

    [Fact]
    public void An_original_too_large_for_the_broker_is_cut_and_says_its_size()
    {
        var big = new byte[2_000_000];
        var record = DeadLetter.Create("moderation.dlq", Upload(big), "invalid-event", "too large");
        Assert.Equal(DeadLetter.DefaultMaxValueBytes, record.Value.Length);
        Assert.Equal("2000000", System.Text.Encoding.UTF8.GetString(record.Headers.GetLastBytes(DeadLetter.TruncatedHeader)));
    }
}
