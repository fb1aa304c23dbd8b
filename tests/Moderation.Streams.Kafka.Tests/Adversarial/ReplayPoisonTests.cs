using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Moderation.Streams.Contracts;
using Moderation.Streams.Kafka.Replay;

namespace Moderation.Streams.Kafka.Tests.Adversarial;

/// <summary>A replay has its own produce path: an outcome the broker refuses costs a stub DLQ record there too, and
/// the replay still completes its range.</summary>
public sealed class ReplayPoisonTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed class Handler(KafkaOptions options) : IUploadHandler
    {
        public Task<IReadOnlyList<OutboundMessage>> HandleAsync(ConsumeResult<byte[]?, byte[]?> upload, CancellationToken ct)
        {
            bool big = Encoding.UTF8.GetString(upload.Message.Key!).StartsWith("big", StringComparison.Ordinal);
            return Task.FromResult<IReadOnlyList<OutboundMessage>>([new OutboundMessage(options.AllowTopic, upload.Message.Key, big ? new byte[150_000] : "{}"u8.ToArray(), new Headers())]);
        }
    }

    [Fact]
    public async Task A_replayed_outcome_over_the_producers_limit_is_replaced_by_a_stub_and_the_replay_completes()
    {
        using var harness = new PoisonHarness();
        harness.Produce([PoisonHarness.Good("good-0"), PoisonHarness.Good("big-1"), PoisonHarness.Good("good-2")]);
        var options = harness.Options(o => o.Properties["message.max.bytes"] = "100000");
        ReplayPlan plan;
        using (var resolver = new ReplayRangeResolver(options, ReplayTopics.GroupId("poison")))
            plan = resolver.Resolve(Topics.Uploads, ReplayBound.Parse("earliest"), ReplayBound.Parse("now"));

        using var runner = new ReplayRunner(options, plan, new Handler(options), new ReplayOptions(), NullLogger.Instance);
        var result = await runner.RunAsync(Ct);

        Assert.True(result.Completed, result.Error);
        Assert.Equal(3, result.Processed);
        Assert.Equal(["good-0", "good-2"], harness.Read(options.AllowTopic).Select(r => r.KeyText).Order());
        var stub = Assert.Single(harness.Read(options.DlqTopic));
        Assert.Equal(("big-1", "1", "1"), (stub.KeyText, stub.Header(DeadLetter.StubHeader), stub.Header(DlqHeaders.SourceOffset)));
    }
}
