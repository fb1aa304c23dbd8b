using System.Text;
using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Microsoft.Extensions.Logging.Abstractions;
using Moderation.Streams.Hashing;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Kafka;
using Moderation.Streams.Kafka.Replay;
using Moderation.Streams.Media;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;

namespace Moderation.Streams.Worker.Tests;

/// <summary>A bank tried on a share of uploads (<c>"enabled": 0.5</c>) through running workers on the embedded broker and
/// Garnet: it takes down the uploads whose content id falls in its share, the same ones after a restart and a redelivery,
/// and the rest are decided as if it were not there, each recorded as would-have-matched on the shadow topic.</summary>
public sealed class BankTrialTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task ImportAsync(EmbeddedStack stack, string bank, string id, byte[] encoded)
    {
        var image = ImageDecoder.Decode(encoded);
        var pdq = new PdqHasher().Hash(image.Pixels, image.Width, image.Height, image.Channels);
        await using var redis = await RedisConnector.ConnectAsync(stack.Redis.Configuration);
        var (entries, errors) = BankCsv.Read(new StringReader($"{pdq.Hash},{pdq.Quality},{id},trial"), bank, "trial-list", DateTimeOffset.UtcNow);
        Assert.Empty(errors);
        await new RedisBankStore(redis).ImportAsync(bank, entries);
    }

    /// <summary>The shadow topic's records, from the beginning, until <paramref name="count"/> arrived (the deadline only
    /// bounds a hang).</summary>
    private static List<EmbeddedStack.Record> ReadShadow(EmbeddedStack stack, int count)
    {
        using var consumer = new ConsumerBuilder<string?, byte[]>(new ConsumerConfig
        {
            BootstrapServers = stack.Broker.BootstrapServers, GroupId = "shadow-reader-" + Guid.NewGuid().ToString("N"), EnableAutoCommit = false,
        }).Build();
        consumer.Assign(Enumerable.Range(0, EmbeddedStack.Partitions).Select(p => new TopicPartitionOffset(Topics.Shadow, p, Offset.Beginning)));
        var records = new List<EmbeddedStack.Record>();
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (records.Count < count && DateTime.UtcNow < end)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (r?.Message is not null)
                records.Add(new EmbeddedStack.Record(r.Topic, r.Message.Key, r.Message.Value, r.Message.Headers, r.Partition.Value, r.Offset.Value));
        }
        return records;
    }

    [Fact]
    public async Task A_replay_with_an_observe_only_bank_decides_without_it_and_writes_nothing_to_the_shadow_topic()
    {
        await using var stack = new EmbeddedStack();
        var picture = SampleImages.Encode(SampleImages.Render(6521, 320, 240));
        await ImportAsync(stack, "new-list", "n-1", picture);
        var policy = Path.Combine(stack.MediaRoot.FullName, "..", $"policy-{Guid.NewGuid():N}.json");
        File.WriteAllText(policy, """{"version":"observe-1","takedown":{"porn":0.9},"review":{"porn":0.6},"banks":{"new-list":{"action":"takedown","enabled":0}}}""");
        var url = stack.WriteImage("picture.png", picture);
        var at = new DateTimeOffset(2026, 11, 25, 10, 0, 0, TimeSpan.Zero);
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = stack.Broker.BootstrapServers, Acks = Acks.All }).Build())
        {
            for (int i = 0; i < 4; i++)
                producer.Produce(Topics.Uploads, new Message<string, byte[]> { Key = $"o-{i}", Value = EmbeddedStack.Upload($"o-{i}", url), Timestamp = new Timestamp(at.AddSeconds(i)) });
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }
        var settings = new ScreeningSettings(new KafkaOptions { BootstrapServers = stack.Broker.BootstrapServers }, new ScreeningOptions { PolicyFile = policy },
            new MediaOptions { Root = stack.MediaRoot.FullName }, new RedisOptions { Configuration = stack.Redis.Configuration }, new BankMatcherOptions());

        var report = await ReplayJob.RunAsync(settings, new ReplayRequest { From = new ReplayBound.AtTime(at), To = new ReplayBound.AtTime(at.AddMinutes(1)) },
            NullLogger.Instance, null, Ct);

        Assert.True(report.Result.Completed, report.Result.Error);
        using var consumer = new ConsumerBuilder<string?, byte[]>(new ConsumerConfig
        {
            BootstrapServers = stack.Broker.BootstrapServers, GroupId = "replay-reader-" + Guid.NewGuid().ToString("N"), EnableAutoCommit = false,
        }).Build();
        var topics = new[] { ReplayTopics.Takedown, ReplayTopics.Review, ReplayTopics.Allow, Topics.Shadow };
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = stack.Broker.BootstrapServers }).Build();
        var partitions = admin.GetMetadata(TimeSpan.FromSeconds(10)).Topics.Where(t => topics.Contains(t.Topic))
            .SelectMany(t => t.Partitions.Select(p => new TopicPartition(t.Topic, p.PartitionId))).ToList();
        var ends = partitions.ToDictionary(p => p, p => consumer.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10)).High.Value);
        Assert.Equal(0, ends.Where(e => e.Key.Topic == Topics.Shadow).Sum(e => e.Value)); // a replay writes nothing there
        consumer.Assign(partitions.Select(p => new TopicPartitionOffset(p, Offset.Beginning)));
        var decisions = new List<DecisionEvent>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (decisions.Count < ends.Values.Sum() && DateTime.UtcNow < deadline)
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { Message: not null } r) decisions.Add(DecisionEvent.FromUtf8Json(r.Message.Value));
        Assert.Equal(["o-0", "o-1", "o-2", "o-3"], decisions.Select(d => d.ContentId).Order());
        Assert.All(decisions, d => Assert.DoesNotContain(d.Reasons, r => r.Source == "bank")); // observed only, never acted on
    }

    [Fact]
    public async Task A_bank_on_half_of_uploads_takes_down_the_same_content_ids_on_every_run_and_records_the_rest_on_the_shadow_topic()
    {
        await using var stack = new EmbeddedStack();
        var picture = SampleImages.Encode(SampleImages.Render(6501, 320, 240));
        await ImportAsync(stack, "new-list", "n-1", picture);
        var policy = Path.Combine(stack.MediaRoot.FullName, "policy.json");
        File.WriteAllText(policy, """{"version":"trial-1","takedown":{"porn":0.9},"review":{"porn":0.6},"banks":{"new-list":{"action":"takedown","enabled":0.5}}}""");
        var url = stack.WriteImage("picture.png", picture);
        var ids = Enumerable.Range(0, 200).Select(i => $"trial-{i}").ToList();
        var uploads = ids.Select(id => (id, EmbeddedStack.Upload(id, url))).ToList();
        int inShare = ids.Count(id => PolicyBankRule.Bucket(id) < 0.5);
        Assert.InRange(inShare, 80, 120); // the 200 ids do split about evenly; the exact set is checked below

        // Two runs of the same 200 uploads, each on a freshly started worker: the second is a redelivery of the first.
        var takenDown = new List<HashSet<string>>();
        for (int run = 1; run <= 2; run++)
        {
            using var host = stack.StartWorker(new() { ["Screening:PolicyFile"] = policy });
            stack.Produce(uploads);
            var live = stack.ReadOutcomes(200 * run, settle: TimeSpan.FromSeconds(1), deadline: TimeSpan.FromSeconds(240));
            using (var http = new HttpClient { BaseAddress = WorkerTelemetry.ListeningOn(host) })
                Assert.Matches("moderation_bank_trials_total\\{[^}]*trial_action=\"takedown\"", await http.GetStringAsync("/metrics", Ct));
            await host.StopAsync(Ct);
            // Each run adds one decision per id; this run's is the last of each.
            var decisions = live.GroupBy(r => r.Key!).ToDictionary(g => g.Key, g => g.Last().Decision);
            Assert.Equal(ids.Order(), decisions.Keys.Order());
            Assert.All(live.GroupBy(r => r.Key!), g => Assert.Equal(run, g.Count()));
            takenDown.Add([.. decisions.Where(d => d.Value.Action == Actions.Takedown).Select(d => d.Key)]);
            foreach (var (id, decision) in decisions)
            {
                if (takenDown[^1].Contains(id))
                    Assert.Equal(("bank", "new-list", "n-1"), (decision.Reasons[0].Source, decision.Reasons[0].Bank, decision.Reasons[0].MatchId));
                else
                    Assert.DoesNotContain(decision.Reasons, r => r.Source == "bank"); // decided as if the bank were not there
                Assert.Equal("trial-1", decision.PolicyVersion);
            }
        }

        Assert.Equal(takenDown[0], takenDown[1]);
        Assert.Equal(ids.Where(id => PolicyBankRule.Bucket(id) < 0.5).ToHashSet(), takenDown[0]);

        // The rest, once per run each, on the shadow topic: the would-be takedown naming the bank, entry and distance.
        var shadow = ReadShadow(stack, 2 * (200 - inShare));
        Assert.Equal(2 * (200 - inShare), shadow.Count);
        Assert.Equal(ids.Where(id => !takenDown[0].Contains(id)).SelectMany(id => new[] { id, id }).Order(), shadow.Select(r => r.Key!).Order());
        Assert.All(shadow, r =>
        {
            Assert.Equal(ShadowDecisions.BankTrialKind, r.Header(ShadowDecisions.KindHeader));
            Assert.NotEqual(Actions.Takedown, r.Header(ShadowDecisions.LiveActionHeader));
            Assert.Equal("changed", r.Header(ShadowDecisions.AgreementHeader));
            var wouldBe = r.Decision;
            Assert.Equal((Actions.Takedown, "trial-1+trial"), (wouldBe.Action, wouldBe.PolicyVersion));
            var reason = Assert.Single(wouldBe.Reasons);
            Assert.Equal(("bank", "new-list", "n-1", "trial"), (reason.Source, reason.Bank, reason.MatchId, reason.EntryLabel));
            Assert.InRange(reason.Distance!.Value, 0, 31);
            Assert.False(string.IsNullOrEmpty(r.Header(DecisionId.Header)));
        });
        Assert.Equal(shadow.Count, shadow.Select(r => r.Header(DecisionId.Header)).Distinct().Count()); // each its own upload source
    }
}
