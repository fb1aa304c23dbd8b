using System.Text;
using Confluent.Kafka;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Kafka.Tests.Adversarial;

/// <summary>
/// An optional record (the shadow model's would-be decision) never stops live screening: on a cluster where its topic
/// does not exist (and producers may not create it), every upload still gets its live decision, the group commits to
/// the end, and the undelivered records are counted as dropped.
/// </summary>
public sealed class OptionalRecordTests : IDisposable
{
    private readonly PoisonHarness _harness = new(Topics.All.Where(t => t != Topics.Shadow).ToList());

    public void Dispose() => _harness.Dispose();

    private sealed class ShadowingHandler(KafkaOptions options) : IUploadHandler
    {
        public Task<IReadOnlyList<OutboundMessage>> HandleAsync(ConsumeResult<byte[]?, byte[]?> upload, CancellationToken ct) =>
            Task.FromResult<IReadOnlyList<OutboundMessage>>(
            [
                new OutboundMessage(options.AllowTopic, upload.Message.Key, "live"u8.ToArray(), new Headers()),
                new OutboundMessage(options.ShadowTopic, upload.Message.Key, "shadow"u8.ToArray(), new Headers()) { Optional = true },
            ]);
    }

    [Theory]
    [InlineData(DeliveryModes.AtLeastOnce)]
    [InlineData(DeliveryModes.ExactlyOnce)]
    public async Task Shadow_records_for_a_missing_topic_are_counted_and_dropped_and_every_live_decision_is_published(string mode)
    {
        var options = _harness.Options(o =>
        {
            o.Mode = mode;
            o.Properties["allow.auto.create.topics"] = "false";
            o.Properties["topic.metadata.propagation.max.ms"] = "500";
        });
        _harness.Produce(Enumerable.Range(0, 20).Select(i => PoisonHarness.Good($"u-{i:D2}")));
        bool exactlyOnce = mode == DeliveryModes.ExactlyOnce;

        using (var consumer = new UploadConsumer(options, new ShadowingHandler(options), ConsoleTestLogger.Instance))
        {
            // Before the fix the first failed shadow delivery was fatal (at-least-once: RunAsync threw), or aborted
            // every transaction again and again (exactly-once: nothing ever committed).
            await Eventually.RunUntil(consumer, () => consumer.Consumed >= 20 && consumer.InFlight == 0 && consumer.OptionalDropped >= 1
                && (exactlyOnce ? consumer.UploadsCommitted >= 20 : _harness.Committed(options.GroupId).Committed >= 20));
            Assert.True(consumer.OptionalDropped >= 1, $"{consumer.OptionalDropped} shadow records dropped");
            if (exactlyOnce) Assert.Equal(20, consumer.UploadsCommitted);
        }

        // The embedded broker also shows an aborted transaction's copies: Distinct.
        var live = _harness.Read(options.AllowTopic).Select(r => r.KeyText).Distinct().Order();
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"u-{i:D2}"), live);
        // Exactly-once offsets are committed inside the transactions (UploadsCommitted above).
        if (!exactlyOnce) Assert.Equal((20L, 20L), _harness.Committed(options.GroupId));
        Assert.DoesNotContain(Topics.Shadow, BrokerClients.Metadata(_harness.Broker.BootstrapServers).Topics.Select(t => t.Topic));
    }
}
