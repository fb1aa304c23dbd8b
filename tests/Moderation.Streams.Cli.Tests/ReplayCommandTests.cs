using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Embedded;
using Moderation.Streams.Kafka.Replay;
using Moderation.Streams.Media;

namespace Moderation.Streams.Cli.Tests;

public sealed class ReplayCommandTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _media = Directory.CreateTempSubdirectory("replay-cli-");

    public void Dispose()
    {
        try { _media.Delete(true); } catch (IOException) { }
    }

    [Fact]
    public async Task A_replay_killed_midway_resumes_from_its_commits_and_republishes_nothing_it_had_committed()
    {
        const int count = 240;
        using var broker = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Partitions = 4 });
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = broker.BootstrapServers, EnableIdempotence = true, Acks = Acks.All }).Build())
        {
            for (int i = 0; i < count; i++)
            {
                var id = $"k-{i:D3}";
                var path = Path.Combine(_media.FullName, id + ".png");
                File.WriteAllBytes(path, SampleImages.Png(i, 48, 48));
                producer.Produce(Topics.Uploads, new Message<string, byte[]> { Key = id, Value = UploadEventParser.Serialize(new UploadEvent { ContentId = id, MediaType = MediaTypes.Image, Media = new MediaRef { Url = new Uri(path).AbsoluteUri } }) });
            }
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }
        string[] args = ["replay", "--kafka", broker.BootstrapServers, "--from", "earliest", "--to", "now", "--name", "killed", "--media-root", _media.FullName];
        var partitions = Enumerable.Range(0, 4).Select(p => new TopicPartition(Topics.Uploads, p)).ToList();
        using var progress = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = broker.BootstrapServers, GroupId = ReplayTopics.GroupId("killed") }).Build();
        long Committed(out Dictionary<int, long> perPartition)
        {
            perPartition = progress.Committed(partitions, TimeSpan.FromSeconds(10)).ToDictionary(c => c.Partition.Value, c => Math.Max(0, c.Offset.Value));
            return perPartition.Values.Sum();
        }

        // Slowed down so that it is surely killed midway, once some progress is committed.
        using (var first = CliProcess.Start([.. args, "--rate", "40"]))
        {
            var deadline = DateTime.UtcNow + CliProcess.DefaultDeadline;
            while (Committed(out _) < 40 && DateTime.UtcNow < deadline && !first.HasExited) await Task.Delay(100, Ct);
            first.Kill();
            Assert.Equal(128 + CliProcess.SIGKILL, await first.WaitForExitAsync(ct: Ct));
        }
        long doneAtKill = Committed(out var committedAtKill);
        Assert.InRange(doneAtKill, 40, count - 1);

        using var second = await CliProcess.RunAsync(args, ct: Ct);

        Assert.Equal(0, await second.WaitForExitAsync(ct: Ct));
        Assert.Contains(second.StdoutLines, l => l.Contains($"total={count} done_before={doneAtKill}"));
        Assert.Contains(second.StdoutLines, l => l.StartsWith($"replay completed: {count}/{count} uploads ({doneAtKill} before this run, {count - doneAtKill} now)"));
        Assert.Equal(count, Committed(out _));
        // Every upload has an outcome; those committed before the kill have exactly one: nothing finished was published again.
        var outcomes = ReadBackfill(broker.BootstrapServers);
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"k-{i:D3}"), outcomes.Select(o => o.Key).Distinct().Order());
        foreach (var group in outcomes.GroupBy(o => (o.Partition, o.Offset)).Where(g => g.Count() > 1))
            Assert.True(group.Key.Offset >= committedAtKill[group.Key.Partition], $"{group.Key} was committed before the kill but published {group.Count()} times");
    }

    [Fact]
    public async Task Compare_reports_each_change_with_the_reason_score_and_bank_of_both_sides()
    {
        using var broker = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Partitions = 1 });
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = broker.BootstrapServers, Acks = Acks.All }).Build())
        {
            for (int i = 0; i < 3; i++)
            {
                var id = $"cmp-{i}";
                var path = Path.Combine(_media.FullName, id + ".png");
                File.WriteAllBytes(path, SampleImages.Png(50 + i, 64, 64));
                producer.Produce(Topics.Uploads, new Message<string, byte[]> { Key = id, Value = UploadEventParser.Serialize(new UploadEvent { ContentId = id, MediaType = MediaTypes.Image, Media = new MediaRef { Url = new Uri(path).AbsoluteUri } }) });
                // What a worker published before: a bank takedown.
                producer.Produce(Topics.Takedown, new Message<string, byte[]> { Key = id, Value = new DecisionEvent
                {
                    ContentId = id, Action = Actions.Takedown, PolicyVersion = "old", ModelVersion = "nsfw-mobilenet-v2@1", DecidedAt = DateTimeOffset.UtcNow.AddHours(-1),
                    Reasons = [new DecisionReason { Source = "bank", Bank = "known-bad", MatchId = $"kb-{i}", Distance = 3 }],
                }.ToUtf8Json() });
            }
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }
        // A policy under which nothing is taken down: no bank consulted (no --redis), thresholds nothing reaches.
        var policy = Path.Combine(_media.FullName, "lenient.json");
        File.WriteAllText(policy, "{\"version\": \"lenient\", \"takedown\": {\"porn\": 1.0}, \"review\": {\"porn\": 1.0}}");
        var report = Path.Combine(_media.FullName, "cmp");

        using var replay = await CliProcess.RunAsync(["replay", "--kafka", broker.BootstrapServers, "--from", "earliest", "--to", "now", "--dry-run", "--compare",
            "--policy", policy, "--media-root", _media.FullName, "--report", report, "--progress", "none"], deadline: TimeSpan.FromMinutes(3), ct: Ct);

        Assert.True(await replay.WaitForExitAsync(TimeSpan.FromMinutes(3), Ct) == ExitCodes.Ok, replay.Transcript());
        Assert.Contains("compare: 3 content ids, 0 unchanged, 3 changed", replay.StdoutLines);
        Assert.Contains(replay.StdoutLines, l => System.Text.RegularExpressions.Regex.IsMatch(l,
            @"^  changed cmp-0 takedown->allow: reason bank:known-bad/kb-0@3 -> -; score - -> [a-z]+:[0-9.]+; bank known-bad -> -$"));
        var csv = File.ReadAllLines(report + ".csv");
        Assert.Equal("content_id,before,after,before_policy_version,after_policy_version,before_model_version,after_model_version,partition,offset," +
                     "before_reason,after_reason,before_score,after_score,before_bank,after_bank", csv[0]);
        Assert.Equal(4, csv.Length);
        Assert.All(csv.Skip(1), line =>
            Assert.Matches(@"^cmp-[0-2],takedown,allow,old,lenient,nsfw-mobilenet-v2@1,nsfw-mobilenet-v2@1,0,[0-9]+,bank:known-bad/kb-[0-2]@3,,,[a-z]+:[0-9.]+,known-bad,$", line));
    }

    [Theory]
    [InlineData("yesterday", "now", "not a replay bound")]
    [InlineData("0:5", "0:2", "before it starts")]
    public async Task A_bad_range_is_a_usage_error_with_a_message(string from, string to, string message)
    {
        using var broker = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Partitions = 1 });

        using var replay = await CliProcess.RunAsync(["replay", "--kafka", broker.BootstrapServers, "--from", from, "--to", to], ct: Ct);

        Assert.Equal(2, await replay.WaitForExitAsync(ct: Ct));
        Assert.Contains(replay.StderrLines, l => l.Contains(message));
    }

    private static List<(string Key, int Partition, long Offset)> ReadBackfill(string bootstrap)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "reader-" + Guid.NewGuid().ToString("N"), EnableAutoCommit = false }).Build();
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
        var topics = new HashSet<string> { ReplayTopics.Takedown, ReplayTopics.Review, ReplayTopics.Allow, ReplayTopics.Dlq };
        var partitions = admin.GetMetadata(TimeSpan.FromSeconds(10)).Topics.Where(t => topics.Contains(t.Topic))
            .SelectMany(t => t.Partitions.Select(p => new TopicPartition(t.Topic, p.PartitionId))).ToList();
        long expected = partitions.Sum(p => consumer.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10)).High.Value);
        consumer.Assign(partitions.Select(p => new TopicPartitionOffset(p, Offset.Beginning)));
        var outcomes = new List<(string, int, long)>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (outcomes.Count < expected && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is not { Message: not null } r) continue;
            var d = DecisionEvent.FromUtf8Json(r.Message.Value);
            outcomes.Add((r.Message.Key, d.Source!.Partition, d.Source.Offset));
        }
        Assert.Equal(expected, outcomes.Count);
        return outcomes;
    }
}
