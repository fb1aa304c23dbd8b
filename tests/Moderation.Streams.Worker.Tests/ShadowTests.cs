using System.Diagnostics.Metrics;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Moderation.Streams.Contracts;
using Moderation.Streams.Inference;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media;

namespace Moderation.Streams.Worker.Tests;

/// <summary>A shadow model runs on the live batches; its would-be decisions are published to their own topic and
/// counted, and never change what the live model decides.</summary>
public sealed class ShadowTests
{
    private static DecodedImage Image(int seed) => ImageDecoder.Decode(SampleImages.Png(seed, 64, 64));

    private sealed class Fixed(string name, float[] scores, bool fail = false) : IImageClassifier
    {
        public ModelDescriptor Model { get; } = new(name, 1, "", 224, ClassLabels.All);
        public string Device => "test";
        public int Calls;
        public IReadOnlyList<ClassScores> Classify(IReadOnlyList<DecodedImage> images)
        {
            Interlocked.Increment(ref Calls);
            if (fail) throw new InvalidOperationException("candidate broke");
            return [.. images.Select(_ => new ClassScores(ClassLabels.All, (float[])scores.Clone()))];
        }
        public void Dispose() { }
    }

    //                                      drawing hentai neutral porn  sexy
    private static readonly float[] Safe = [0.05f, 0.0f, 0.9f, 0.05f, 0.0f];
    private static readonly float[] Porn = [0.0f, 0.02f, 0.03f, 0.95f, 0.0f];

    [Fact]
    public void The_candidate_scores_the_same_batch_and_the_live_scores_come_back_untouched()
    {
        var live = new Fixed("live", Safe);
        var candidate = new Fixed("candidate", Porn);
        var shadow = new ShadowClassifier(live, candidate, new PolicyReloadTests.Logs().CreateLogger("t"));
        var batch = new[] { Image(1), Image(2), Image(3) };
        var scores = shadow.Classify(batch);

        Assert.Equal((1, 1), (live.Calls, candidate.Calls)); // one batch each, the same one
        Assert.All(scores, s => Assert.Equal(Safe, s.Values));
        Assert.Equal("live", shadow.Model.Name);
        Assert.Equal(Porn, shadow.TakeCandidate(scores[1])!.Values);
        Assert.Null(shadow.TakeCandidate(scores[1])); // taken once
    }

    [Fact]
    public void A_failing_candidate_leaves_the_live_scores_and_only_loses_its_own()
    {
        var shadow = new ShadowClassifier(new Fixed("live", Safe), new Fixed("candidate", Porn, fail: true), new PolicyReloadTests.Logs().CreateLogger("t"));
        var scores = shadow.Classify([Image(1), Image(2)]);
        Assert.All(scores, s => Assert.Equal(Safe, s.Values));
        Assert.Null(shadow.TakeCandidate(scores[0]));
        Assert.Equal(1, shadow.Failures);

        var decisions = new ShadowDecisions(shadow, new KafkaOptions());
        var live = new DecisionEvent { ContentId = "c", Action = Actions.Allow, Reasons = [], PolicyVersion = "p", DecidedAt = DateTimeOffset.UnixEpoch };
        Assert.Null(decisions.Decide(Policy.Default, new UploadSignals(), scores[0], live));
        Assert.Equal((0, 1), (decisions.Total, decisions.Missing));
    }

    [Fact]
    public void Would_be_decisions_use_the_shadow_thresholds_and_are_counted_by_agreement()
    {
        var shadow = new ShadowClassifier(new Fixed("live", Porn), new Fixed("candidate", Porn), new PolicyReloadTests.Logs().CreateLogger("t"));
        var decisions = new ShadowDecisions(shadow, new KafkaOptions());
        var policy = Policy.Default with { Shadow = new PolicyShadow { Model = "candidate", Takedown = new Dictionary<string, float> { ["porn"] = 0.99f } } };
        var scores = shadow.Classify([Image(1), Image(2)]);
        var live = new DecisionEvent { ContentId = "c1", Action = Actions.Takedown, Reasons = [], PolicyVersion = "p", DecidedAt = DateTimeOffset.UnixEpoch };

        var record = decisions.Decide(policy, new UploadSignals(), scores[0], live)!;
        var shadowDecision = DecisionEvent.FromUtf8Json(record.Value);
        Assert.Equal(Topics.Shadow, record.Topic);
        Assert.Equal((Actions.Review, "candidate@1", "2026-11-25.1+shadow"), (shadowDecision.Action, shadowDecision.ModelVersion, shadowDecision.PolicyVersion));
        Assert.Equal("takedown", Encoding.ASCII.GetString(record.Headers.GetLastBytes(ShadowDecisions.LiveActionHeader)));
        Assert.Equal("changed", Encoding.ASCII.GetString(record.Headers.GetLastBytes(ShadowDecisions.AgreementHeader)));

        decisions.Decide(Policy.Default, new UploadSignals(), scores[1], live with { ContentId = "c2" }); // live thresholds: takedown too
        Assert.Equal(1, decisions.Counts[(Actions.Takedown, Actions.Review)]);
        Assert.Equal(1, decisions.Counts[(Actions.Takedown, Actions.Takedown)]);
        Assert.Equal(0.5, decisions.Agreement);
    }

    [Fact]
    public async Task A_worker_with_a_shadow_publishes_its_would_be_decisions_and_the_live_ones_stay_what_the_live_model_decides()
    {
        await using var stack = new EmbeddedStack();
        var dir = Directory.CreateTempSubdirectory("shadow-policy-");
        var policyFile = Path.Combine(dir.FullName, "policy.json");
        // Live: the default thresholds. Shadow: the Mid model with thresholds that review every image, so it disagrees.
        File.WriteAllText(policyFile, """
            {"version":"shadowed-1","takedown":{"porn":0.9,"hentai":0.9},"review":{"porn":0.6,"hentai":0.6,"sexy":0.8},
             "shadow":{"model":"nsfw-mobilenet-v2-mid","takedown":{},"review":{"drawing":0.19,"hentai":0.19,"neutral":0.19,"porn":0.19,"sexy":0.19}}}
            """);
        var measurements = new List<(long Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) => { if (instrument.Name == "moderation.shadow.decisions") l.EnableMeasurementEvents(instrument); };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) => { lock (measurements) measurements.Add((value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value))); });
        listener.Start();

        const int count = 6;
        var images = Enumerable.Range(0, count).ToDictionary(i => $"s-{i}", i => SampleImages.Png(7300 + i));
        using var host = stack.StartWorker(new() { ["Screening:PolicyFile"] = policyFile, ["Redis:Configuration"] = "" });
        var service = host.Services.GetRequiredService<ScreeningService>();
        stack.Produce(images.Select(kv => (kv.Key, EmbeddedStack.Upload(kv.Key, stack.WriteImage(kv.Key + ".png", kv.Value)))));
        var live = stack.ReadOutcomes(count).ToDictionary(r => r.Key!, r => r.Decision);
        var shadow = ReadShadow(stack, count);

        // Live decisions: the live model's scores under the live policy, exactly as without a shadow.
        using var reference = OnnxImageClassifier.Load();
        foreach (var (id, bytes) in images)
        {
            var expected = reference.Classify([ImageDecoder.Decode(bytes)])[0].ToDictionary();
            var d = live[id];
            Assert.Equal(("nsfw-mobilenet-v2@1", "shadowed-1"), (d.ModelVersion, d.PolicyVersion));
            foreach (var (label, score) in expected) Assert.Equal(score, d.Scores![label], 4);
            Assert.Equal(Policy.Default.ApplyThresholds("nsfw-mobilenet-v2", d.Scores!).Action, d.Action);
        }
        // Shadow decisions: one per upload, the candidate's scores and thresholds, the live action beside it.
        Assert.Equal(images.Keys.Order(), shadow.Select(s => s.Decision.ContentId).Order());
        foreach (var (decision, liveAction, agreement) in shadow)
        {
            Assert.Equal(("review", "nsfw-mobilenet-v2-mid@1", "shadowed-1+shadow"), (decision.Action, decision.ModelVersion, decision.PolicyVersion));
            Assert.Equal(live[decision.ContentId].Action, liveAction);
            Assert.Equal(liveAction == "review" ? "agree" : "changed", agreement);
            Assert.NotEqual(live[decision.ContentId].Scores!["neutral"], decision.Scores!["neutral"]);
        }
        Assert.Equal(count, service.Shadow!.Total);
        Assert.Equal(live.Values.Count(d => d.Action == "review"), service.Shadow.Agreed);
        lock (measurements)
        {
            Assert.Equal(count, measurements.Sum(m => m.Value));
            Assert.All(measurements, m => Assert.Equal("review", m.Tags["shadow_action"]));
            Assert.Equal(live.Values.Count(d => d.Action != "review"), measurements.Where(m => Equals(m.Tags["agreement"], false)).Sum(m => m.Value));
        }
        dir.Delete(true);
    }

    private static List<(DecisionEvent Decision, string LiveAction, string Agreement)> ReadShadow(EmbeddedStack stack, int count)
    {
        using var consumer = new ConsumerBuilder<string?, byte[]>(new ConsumerConfig
        {
            BootstrapServers = stack.Broker.BootstrapServers, GroupId = "shadow-reader-" + Guid.NewGuid().ToString("N"), EnableAutoCommit = false,
        }).Build();
        consumer.Assign(Enumerable.Range(0, EmbeddedStack.Partitions).Select(p => new TopicPartitionOffset(Topics.Shadow, p, Offset.Beginning)));
        var records = new List<(DecisionEvent, string, string)>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (records.Count < count && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (r?.Message is null) continue;
            records.Add((DecisionEvent.FromUtf8Json(r.Message.Value), Encoding.ASCII.GetString(r.Message.Headers.GetLastBytes(ShadowDecisions.LiveActionHeader)),
                Encoding.ASCII.GetString(r.Message.Headers.GetLastBytes(ShadowDecisions.AgreementHeader))));
        }
        return records;
    }
}
