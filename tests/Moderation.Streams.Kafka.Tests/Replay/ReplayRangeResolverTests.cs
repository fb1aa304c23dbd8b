using Confluent.Kafka;
using Moderation.Streams.Embedded;
using Moderation.Streams.Kafka.Replay;

namespace Moderation.Streams.Kafka.Tests.Replay;

public sealed class ReplayRangeResolverTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);
    private const string Topic = "history";

    /// <summary>Partition p gets <paramref name="perPartition"/> messages stamped T0 + i seconds (i = 0, 1, …).</summary>
    private static EmbeddedKafkaBroker BrokerWithHistory(int partitions, int perPartition)
    {
        var broker = EmbeddedKafkaBroker.Start();
        broker.CreateTopic(Topic, partitions);
        using var producer = BrokerClients.Producer(broker.BootstrapServers);
        for (int p = 0; p < partitions; p++)
            for (int i = 0; i < perPartition; i++)
                producer.Produce(new TopicPartition(Topic, p), new Message<string, string> { Key = $"k{i}", Value = $"p{p}-{i}", Timestamp = new Timestamp(T0.AddSeconds(i)) });
        Assert.Equal(0, producer.Flush(BrokerClients.Deadline));
        return broker;
    }

    private static ReplayRangeResolver Resolver(EmbeddedKafkaBroker broker, string name = "test") =>
        new(new KafkaOptions { BootstrapServers = broker.BootstrapServers }, ReplayTopics.GroupId(name));

    [Fact]
    public void The_embedded_broker_answers_End_for_every_timestamp_so_timestamps_are_found_by_binary_search()
    {
        using var broker = BrokerWithHistory(partitions: 2, perPartition: 1000);
        using var resolver = Resolver(broker);
        using (var consumer = BrokerClients.Consumer(broker.BootstrapServers, "probe"))
        {
            // The platform fact the search exists for: a timestamp inside the partition, answered End, no error.
            var answer = consumer.OffsetsForTimes([new TopicPartitionTimestamp(new TopicPartition(Topic, 0), new Timestamp(T0.AddSeconds(10)))], BrokerClients.Deadline).Single();
            Assert.Equal(Offset.End, answer.Offset);
        }

        var plan = resolver.Resolve(Topic, new ReplayBound.AtTime(T0.AddSeconds(250)), new ReplayBound.AtTime(T0.AddSeconds(600.5)));

        Assert.Equal([new PartitionRange(0, 250, 601, 250), new PartitionRange(1, 250, 601, 250)], plan.Partitions);
        Assert.Equal(2 * 351, plan.Total);
        // log2(1000) ≈ 10 single-message reads per bound and partition.
        Assert.InRange(resolver.TimestampReads, 4, 4 * 12);
    }

    [Fact]
    public void Timestamps_before_the_first_and_after_the_last_message_resolve_to_the_watermarks()
    {
        using var broker = BrokerWithHistory(partitions: 1, perPartition: 50);
        using var resolver = Resolver(broker);

        var all = resolver.Resolve(Topic, new ReplayBound.AtTime(T0.AddDays(-1)), new ReplayBound.AtTime(T0.AddDays(1)));
        var none = resolver.Resolve(Topic, new ReplayBound.AtTime(T0.AddDays(1)), new ReplayBound.Now());
        var exact = resolver.Resolve(Topic, new ReplayBound.AtTime(T0.AddSeconds(49)), new ReplayBound.Now());

        Assert.Equal(new PartitionRange(0, 0, 50, 0), Assert.Single(all.Partitions));
        Assert.Equal(new PartitionRange(0, 50, 50, 50), Assert.Single(none.Partitions));
        Assert.Equal(new PartitionRange(0, 49, 50, 49), Assert.Single(exact.Partitions));
    }

    [Fact]
    public void Offset_lists_replay_only_the_listed_partitions_and_unlisted_ends_are_the_watermark_captured_at_start()
    {
        using var broker = BrokerWithHistory(partitions: 3, perPartition: 20);
        using var resolver = Resolver(broker);

        var plan = resolver.Resolve(Topic, ReplayBound.Parse("0:3,2:5"), ReplayBound.Parse("0:8"));
        Assert.Equal([new PartitionRange(0, 3, 8, 3), new PartitionRange(2, 5, 20, 5)], plan.Partitions);
        Assert.Equal("0:3,2:5", plan.StartSpec);
        Assert.Equal("0:8,2:20", plan.EndSpec);

        var everything = resolver.Resolve(Topic, new ReplayBound.Earliest(), new ReplayBound.Now());
        Assert.Equal(60, everything.Total);
    }

    [Fact]
    public void Reversed_ranges_and_unknown_partitions_or_topics_are_refused()
    {
        using var broker = BrokerWithHistory(partitions: 1, perPartition: 10);
        using var resolver = Resolver(broker);

        Assert.Contains("before it starts", Assert.Throws<ArgumentException>(() => resolver.Resolve(Topic, ReplayBound.Parse("0:8"), ReplayBound.Parse("0:2"))).Message);
        Assert.Contains("no partition 7", Assert.Throws<ArgumentException>(() => resolver.Resolve(Topic, ReplayBound.Parse("7:0"), new ReplayBound.Now())).Message);
        Assert.Contains("not found", Assert.Throws<ArgumentException>(() => resolver.Resolve("no-such-topic", new ReplayBound.Earliest(), new ReplayBound.Now())).Message);
    }

    [Fact]
    public void A_replay_group_that_committed_part_of_the_range_resumes_there()
    {
        using var broker = BrokerWithHistory(partitions: 2, perPartition: 30);
        using (var committer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = broker.BootstrapServers, GroupId = ReplayTopics.GroupId("resumable") }).Build())
            committer.Commit([new TopicPartitionOffset(Topic, 0, 17), new TopicPartitionOffset(Topic, 1, 2)]);
        using var resolver = Resolver(broker, "resumable");

        var plan = resolver.Resolve(Topic, ReplayBound.Parse("0:10,1:10"), ReplayBound.Parse("0:20,1:20"));

        // Partition 0 resumes at its commit; partition 1's commit lies before this range, so it starts at the start.
        Assert.Equal([new PartitionRange(0, 10, 20, 17), new PartitionRange(1, 10, 20, 10)], plan.Partitions);
        Assert.Equal(7, plan.AlreadyDone);
        Assert.Equal(13, plan.Remaining);
    }
}
