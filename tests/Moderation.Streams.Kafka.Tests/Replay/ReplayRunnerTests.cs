using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Moderation.Streams.Embedded;
using Moderation.Streams.Kafka.Replay;

namespace Moderation.Streams.Kafka.Tests.Replay;

public sealed class ReplayRunnerTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private const string Topic = "uploads-history";
    private const string Out = "replayed";

    /// <summary>The handler at the edge: one record per upload on <see cref="Out"/>, naming its source.</summary>
    private sealed class Echo : IUploadHandler
    {
        public Task<IReadOnlyList<OutboundMessage>> HandleAsync(ConsumeResult<byte[]?, byte[]?> upload, CancellationToken ct) =>
            Task.FromResult<IReadOnlyList<OutboundMessage>>([new OutboundMessage(Out, upload.Message.Key, Encoding.UTF8.GetBytes($"{upload.Partition.Value}:{upload.Offset.Value}"), new Headers())]);
    }

    private static EmbeddedKafkaBroker Broker(int partitions, int perPartition)
    {
        var broker = EmbeddedKafkaBroker.Start();
        broker.CreateTopic(Topic, partitions);
        broker.CreateTopic(Out, 1);
        Produce(broker, partitions, 0, perPartition);
        return broker;
    }

    private static void Produce(EmbeddedKafkaBroker broker, int partitions, int from, int to)
    {
        using var producer = BrokerClients.Producer(broker.BootstrapServers);
        for (int p = 0; p < partitions; p++)
            for (int i = from; i < to; i++)
                producer.Produce(new TopicPartition(Topic, p), new Message<string, string> { Key = $"c-{p}-{i}", Value = "{}" });
        Assert.Equal(0, producer.Flush(BrokerClients.Deadline));
    }

    private static KafkaOptions Options(EmbeddedKafkaBroker broker) => new() { BootstrapServers = broker.BootstrapServers, UploadsTopic = Topic };

    private static ReplayPlan Resolve(EmbeddedKafkaBroker broker, string name, string from, string to)
    {
        using var resolver = new ReplayRangeResolver(Options(broker), ReplayTopics.GroupId(name));
        return resolver.Resolve(Topic, ReplayBound.Parse(from), ReplayBound.Parse(to));
    }

    /// <summary>Every record on <see cref="Out"/>, as the "partition:offset" of the upload it came from.</summary>
    private static List<string> Replayed(EmbeddedKafkaBroker broker)
    {
        using var consumer = BrokerClients.Consumer(broker.BootstrapServers, "reader-" + Guid.NewGuid().ToString("N"));
        var high = consumer.QueryWatermarkOffsets(new TopicPartition(Out, 0), BrokerClients.Deadline).High.Value;
        consumer.Assign(new TopicPartitionOffset(Out, 0, Offset.Beginning));
        var values = new List<string>();
        var deadline = DateTime.UtcNow + BrokerClients.Deadline;
        while (values.Count < high && DateTime.UtcNow < deadline)
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { Message: not null } r) values.Add(r.Message.Value);
        return values;
    }

    private static IEnumerable<string> Expected(ReplayPlan plan) =>
        plan.Partitions.SelectMany(p => Enumerable.Range((int)p.Start, (int)p.Count).Select(o => $"{p.Partition}:{o}"));

    [Fact]
    public async Task A_replay_processes_exactly_its_range_even_while_new_uploads_arrive_and_commits_its_end()
    {
        using var broker = Broker(partitions: 2, perPartition: 200);
        var plan = Resolve(broker, "exact", "0:50,1:0", "0:150");
        Assert.Equal(100 + 200, plan.Total);

        using var runner = new ReplayRunner(Options(broker), plan, new Echo(), new ReplayOptions(), NullLogger.Instance);
        var run = runner.RunAsync(Ct);
        Produce(broker, partitions: 2, from: 200, to: 300); // live traffic after the end was captured
        var result = await run;

        Assert.True(result.Completed, result.Error);
        Assert.Equal(300, result.Processed);
        Assert.Equal(300, result.Published);
        Assert.Equal(Expected(plan).Order(), Replayed(broker).Order());
        // The group committed the captured ends: the same range (as printed offsets: "now" has moved) has nothing left.
        var again = Resolve(broker, "exact", plan.StartSpec, plan.EndSpec);
        Assert.Equal([150L, 200L], again.Partitions.Select(p => p.Resume));
        Assert.Equal(0, again.Remaining);
    }

    [Fact]
    public async Task A_dry_run_decides_every_upload_but_publishes_and_commits_nothing()
    {
        using var broker = Broker(partitions: 2, perPartition: 100);
        var plan = Resolve(broker, "dry", "earliest", "now");
        int outcomes = 0;

        using var runner = new ReplayRunner(Options(broker), plan, new Echo(), new ReplayOptions { DryRun = true }, NullLogger.Instance)
        {
            Outcome = (_, records) => { Assert.Single(records); Interlocked.Increment(ref outcomes); },
        };
        var result = await runner.RunAsync(Ct);

        Assert.True(result.Completed, result.Error);
        Assert.Equal(200, outcomes);
        Assert.Equal(0, result.Published);
        Assert.Empty(Replayed(broker));
        Assert.Equal(200, Resolve(broker, "dry", "earliest", "now").Remaining);
    }

    [Fact]
    public async Task An_interrupted_replay_resumes_where_it_stopped_and_publishes_each_upload_once()
    {
        using var broker = Broker(partitions: 3, perPartition: 200);
        var plan = Resolve(broker, "resume", "earliest", "now");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        int seen = 0;

        ReplayResult first;
        using (var runner = new ReplayRunner(Options(broker), plan, new Echo(), new ReplayOptions { MaxInFlight = 8 }, NullLogger.Instance)
        {
            Outcome = (_, _) => { if (Interlocked.Increment(ref seen) == 150) stop.Cancel(); },
        })
        {
            first = await runner.RunAsync(stop.Token);
        }
        Assert.False(first.Completed);
        Assert.Equal("interrupted", first.Error);

        var resumed = Resolve(broker, "resume", "earliest", "now");
        Assert.Equal(first.Processed, resumed.AlreadyDone);
        using (var runner = new ReplayRunner(Options(broker), resumed, new Echo(), new ReplayOptions(), NullLogger.Instance))
        {
            var second = await runner.RunAsync(Ct);
            Assert.True(second.Completed, second.Error);
            Assert.Equal(600, second.Done);
            Assert.Equal(600 - first.Processed, second.Processed);
        }
        Assert.Equal(Expected(plan).Order(), Replayed(broker).Order());
    }

    [Fact]
    public async Task A_replay_whose_range_is_already_done_completes_without_reading()
    {
        using var broker = Broker(partitions: 1, perPartition: 10);
        var plan = Resolve(broker, "empty", "0:10", "now");

        using var runner = new ReplayRunner(Options(broker), plan, new Echo(), new ReplayOptions(), NullLogger.Instance);
        var result = await runner.RunAsync(Ct);

        Assert.True(result.Completed);
        Assert.Equal(0, result.Total);
        Assert.Empty(Replayed(broker));
    }
}
