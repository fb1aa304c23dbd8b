using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Moderation.Streams.Contracts;
using Moderation.Streams.Redis.Banks;
using Moderation.Streams.Kafka;
using Moderation.Streams.Kafka.Replay;
using Moderation.Streams.Media;

namespace Moderation.Streams.Worker.Tests;

public sealed class ReplayTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);
    private static readonly string[] LiveTopics = [Topics.Takedown, Topics.Review, Topics.Allow, Topics.Dlq];
    private static readonly string[] BackfillTopics = [ReplayTopics.Takedown, ReplayTopics.Review, ReplayTopics.Allow, ReplayTopics.Dlq];

    /// <summary>Takes down everything: the five scores sum to 1, so one of them is always at least 0.2.</summary>
    private static readonly Policy TakeDownEverything = new()
    {
        Version = "everything-1",
        Takedown = Policy.KnownLabels.ToDictionary(l => l, _ => 0.2f),
    };

    private static string WritePolicy(EmbeddedStack stack, Policy policy)
    {
        var path = Path.Combine(stack.MediaRoot.FullName, "..", $"policy-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, System.Text.Json.JsonSerializer.Serialize(policy, new System.Text.Json.JsonSerializerOptions { PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower }));
        return path;
    }

    private static ScreeningSettings Settings(EmbeddedStack stack, string policyFile) => new(
        new KafkaOptions { BootstrapServers = stack.Broker.BootstrapServers },
        new ScreeningOptions { PolicyFile = policyFile },
        new MediaOptions { Root = stack.MediaRoot.FullName },
        new RedisOptions(),
        new BankMatcherOptions());

    private static void ProduceAt(EmbeddedStack stack, IEnumerable<(string Id, byte[] Upload, DateTimeOffset At)> uploads)
    {
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = stack.Broker.BootstrapServers, EnableIdempotence = true, Acks = Acks.All }).Build();
        foreach (var (id, upload, at) in uploads)
            producer.Produce(Topics.Uploads, new Message<string, byte[]> { Key = id, Value = upload, Timestamp = new Timestamp(at) });
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
    }

    private static void PublishPrevious(EmbeddedStack stack, IEnumerable<(string Id, string Action, DateTimeOffset At)> decisions)
    {
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = stack.Broker.BootstrapServers, Acks = Acks.All }).Build();
        foreach (var (id, action, at) in decisions)
        {
            if (action == PublishedOutcome.Dlq)
            {
                producer.Produce(Topics.Dlq, new Message<string, byte[]> { Key = id, Value = "{}"u8.ToArray() });
                continue;
            }
            var decision = new DecisionEvent { ContentId = id, Action = action, Reasons = [], PolicyVersion = "old-1", ModelVersion = "nsfw-mobilenet-v2@1", DecidedAt = at };
            producer.Produce(action switch { Actions.Takedown => Topics.Takedown, Actions.Review => Topics.Review, _ => Topics.Allow },
                new Message<string, byte[]> { Key = id, Value = decision.ToUtf8Json() });
        }
        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
    }

    /// <summary>Every record of <paramref name="topics"/> that exist, read to their current end.</summary>
    private static List<EmbeddedStack.Record> ReadAll(EmbeddedStack stack, IEnumerable<string> topics)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = stack.Broker.BootstrapServers }).Build();
        var wanted = topics.ToHashSet();
        var partitions = admin.GetMetadata(TimeSpan.FromSeconds(10)).Topics.Where(t => wanted.Contains(t.Topic))
            .SelectMany(t => t.Partitions.Select(p => new TopicPartition(t.Topic, p.PartitionId))).ToList();
        using var consumer = new ConsumerBuilder<string?, byte[]>(new ConsumerConfig { BootstrapServers = stack.Broker.BootstrapServers, GroupId = "reader-" + Guid.NewGuid().ToString("N"), EnableAutoCommit = false }).Build();
        long expected = partitions.Sum(p => consumer.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10)).High.Value);
        consumer.Assign(partitions.Select(p => new TopicPartitionOffset(p, Offset.Beginning)));
        var records = new List<EmbeddedStack.Record>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (records.Count < expected && DateTime.UtcNow < deadline)
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { Message: not null } r)
                records.Add(new EmbeddedStack.Record(r.Topic, r.Message.Key, r.Message.Value, r.Message.Headers, r.Partition.Value, r.Offset.Value));
        Assert.Equal(expected, records.Count);
        return records;
    }

    [Fact]
    public async Task A_stricter_policy_over_a_timestamp_range_reports_exactly_the_changed_decisions_and_a_dry_run_publishes_nothing()
    {
        await using var stack = new EmbeddedStack();
        string Image(string id) => stack.WriteImage(id + ".png", SampleImages.Png(id.GetHashCode() & 0xffff, 64, 64));
        var missing = new Uri(Path.Combine(stack.MediaRoot.FullName, "gone.png")).AbsoluteUri;
        // Twelve uploads inside [T0, T0 + 1 min), two before and two after it.
        var inRange = Enumerable.Range(0, 12).Select(i => $"r-{i:D2}").ToList();
        var uploads = new List<(string, byte[], DateTimeOffset)>
        {
            ("early-0", EmbeddedStack.Upload("early-0", Image("early-0")), T0.AddHours(-2)),
            ("early-1", EmbeddedStack.Upload("early-1", Image("early-1")), T0.AddSeconds(-1)),
        };
        uploads.AddRange(inRange.Select((id, i) => (id, EmbeddedStack.Upload(id, id == "r-11" ? missing : Image(id)), T0.AddSeconds(i))));
        uploads.Add(("late-0", EmbeddedStack.Upload("late-0", Image("late-0")), T0.AddMinutes(1)));
        uploads.Add(("late-1", EmbeddedStack.Upload("late-1", Image("late-1")), T0.AddHours(3)));
        ProduceAt(stack, uploads);
        // What was published before: r-09 was never decided; r-10 was taken down, then allowed on appeal (the later one counts).
        PublishPrevious(stack,
        [
            ("r-00", Actions.Allow, T0), ("r-01", Actions.Allow, T0), ("r-02", Actions.Allow, T0), ("r-03", Actions.Allow, T0),
            ("r-04", Actions.Review, T0), ("r-05", Actions.Review, T0), ("r-06", Actions.Review, T0),
            ("r-07", Actions.Takedown, T0), ("r-08", Actions.Takedown, T0),
            ("r-10", Actions.Takedown, T0), ("r-10", Actions.Allow, T0.AddDays(1)),
            ("r-11", Actions.Allow, T0),
            ("early-0", Actions.Allow, T0), ("late-1", Actions.Allow, T0),
        ]);
        var liveBefore = ReadAll(stack, LiveTopics).Count;
        var settings = Settings(stack, WritePolicy(stack, TakeDownEverything));
        var request = new ReplayRequest { From = new ReplayBound.AtTime(T0), To = new ReplayBound.AtTime(T0.AddMinutes(1)), Compare = true, MaxInFlight = 8 };
        var expected = new Dictionary<string, long> { ["allow->takedown"] = 5, ["review->takedown"] = 3, ["allow->dlq"] = 1, ["none->takedown"] = 1 };

        var dry = await ReplayJob.RunAsync(settings, request with { DryRun = true }, NullLogger.Instance, null, Ct);

        Assert.True(dry.Result.Completed, dry.Result.Error);
        Assert.Equal(12, dry.Plan.Total);
        Assert.Equal(expected.OrderBy(x => x.Key), dry.Diff!.Transitions.OrderBy(x => x.Key));
        Assert.Equal((12L, 2L, 10L), (dry.Diff.Compared, dry.Diff.Unchanged, dry.Diff.Changed));
        Assert.Empty(ReadAll(stack, BackfillTopics));
        Assert.Equal(liveBefore, ReadAll(stack, LiveTopics).Count);

        var real = await ReplayJob.RunAsync(settings, request, NullLogger.Instance, null, Ct);

        Assert.True(real.Result.Completed, real.Result.Error);
        Assert.Equal(expected.OrderBy(x => x.Key), real.Diff!.Transitions.OrderBy(x => x.Key));
        Assert.Equal(dry.Diff.Changes, real.Diff.Changes);
        var change = Assert.Single(real.Diff.Changes, c => c.ContentId == "r-10");
        Assert.Equal(("allow", "takedown", "old-1", "everything-1"), (change.Before, change.After, change.BeforePolicyVersion, change.AfterPolicyVersion));
        // The replay's outcomes went to the backfill topics only: one per upload of the range.
        var backfill = ReadAll(stack, BackfillTopics);
        Assert.Equal(inRange, backfill.Select(r => r.Key!).Order());
        Assert.Equal(ReplayTopics.Dlq, Assert.Single(backfill, r => r.Key == "r-11").Topic);
        Assert.All(backfill.Where(r => r.Topic != ReplayTopics.Dlq), r => Assert.Equal(("everything-1", ReplayTopics.Takedown), (r.Decision.PolicyVersion, r.Topic)));
        Assert.Equal(liveBefore, ReadAll(stack, LiveTopics).Count);

        var csv = new StringWriter();
        real.Diff.WriteCsv(csv);
        var lines = csv.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1 + 10, lines.Length);
        Assert.StartsWith("r-09,none,takedown,,everything-1,,nsfw-mobilenet-v2@1,", Assert.Single(lines, l => l.StartsWith("r-09,")));
        using var json = new MemoryStream();
        real.Diff.WriteJson(json);
        using var parsed = System.Text.Json.JsonDocument.Parse(json.ToArray());
        Assert.Equal(5, parsed.RootElement.GetProperty("summary").GetProperty("transitions").GetProperty("allow->takedown").GetInt64());
        Assert.Equal(10, parsed.RootElement.GetProperty("changes").GetArrayLength());
    }

    [Fact]
    public async Task Replaying_the_workers_history_with_a_stricter_policy_changes_exactly_the_decisions_its_thresholds_imply()
    {
        await using var stack = new EmbeddedStack();
        var uploads = new List<(string Key, byte[] Value)>();
        for (int i = 0; i < 60; i++)
        {
            var id = $"h-{i:D3}";
            var bytes = (i % 3) switch { 0 => SampleImages.Plasma(300 + i, 96, 96), 1 => SampleImages.Png(i, 96, 72), _ => SampleImages.Jpeg(i, 96, 72) };
            uploads.Add((id, EmbeddedStack.Upload(id, stack.WriteImage(id + (i % 3 == 2 ? ".jpg" : ".png"), bytes))));
        }
        List<DecisionEvent> previous;
        using (var host = stack.StartWorker())
        {
            stack.Produce(uploads);
            previous = stack.ReadOutcomes(uploads.Count, settle: TimeSpan.Zero).Select(r => r.Decision).ToList();
            await host.StopAsync(Ct);
        }
        // Stricter: take down porn from the history's median porn score (so about half of it changes), review from a tenth of that.
        var median = previous.Select(d => d.Scores!["porn"]).Order().ElementAt(previous.Count / 2);
        var stricter = new Policy
        {
            Version = "stricter-1",
            Takedown = new Dictionary<string, float> { ["porn"] = median, ["hentai"] = 0.9f },
            Review = new Dictionary<string, float> { ["porn"] = median / 10, ["hentai"] = 0.6f, ["sexy"] = 0.8f },
        };
        var expected = previous
            .Select(d => (Before: d.Action, After: stricter.ApplyThresholds("nsfw-mobilenet-v2", d.Scores!).Action))
            .Where(x => x.Before != x.After)
            .GroupBy(x => $"{x.Before}->{x.After}").ToDictionary(g => g.Key, g => (long)g.Count());
        Assert.NotEmpty(expected);

        var report = await ReplayJob.RunAsync(Settings(stack, WritePolicy(stack, stricter)),
            new ReplayRequest { From = new ReplayBound.Earliest(), Compare = true }, NullLogger.Instance, null, Ct);

        Assert.True(report.Result.Completed, report.Result.Error);
        Assert.Equal(60, report.Result.Processed);
        Assert.Equal(expected.OrderBy(x => x.Key), report.Diff!.Transitions.OrderBy(x => x.Key));
        Assert.Equal(60 - expected.Values.Sum(), report.Diff.Unchanged);
    }
}
