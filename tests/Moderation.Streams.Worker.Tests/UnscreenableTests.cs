using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Moderation.Streams.Contracts;
using Moderation.Streams.Inference;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media;

namespace Moderation.Streams.Worker.Tests;

/// <summary>An upload whose screening threw (caught by the consume loop, outside the screeners) is decided by the policy's
/// <c>unscreenable</c> like one the model could not score: a fail-closed review, or the DLQ as <c>internal</c>.</summary>
public sealed class UnscreenableTests
{
    private sealed class Unused : IImageClassifier
    {
        public ModelDescriptor Model { get; } = new("unused", 1, "", 224, ClassLabels.All);
        public string Device => "test";
        public IReadOnlyList<ClassScores> Classify(IReadOnlyList<DecodedImage> images) => throw new InvalidOperationException("not used");
        public void Dispose() { }
    }

    private static ConsumeResult<byte[]?, byte[]?> Upload() => new()
    {
        TopicPartitionOffset = new TopicPartitionOffset(Topics.Uploads, 2, 41),
        Message = new Message<byte[]?, byte[]?> { Key = "c-1"u8.ToArray(), Value = EmbeddedStack.Upload("c-1", "https://cdn.example/a.jpg"), Headers = [] },
    };

    private static async Task<(IReadOnlyList<OutboundMessage>? Outcome, ScreeningStats Stats)> UnhandledAsync(string unscreenable)
    {
        var kafka = new KafkaOptions();
        var stats = new ScreeningStats();
        await using var batcher = new DynamicBatcher(new Unused());
        var services = new ScreenerServices { Batcher = batcher, Stats = stats, Logger = NullLogger.Instance };
        var policy = Policy.Default with { Unscreenable = unscreenable };
        using var pipeline = new ScreeningPipeline(kafka, new ScreeningOptions(), new MediaReader(new MediaOptions()), services, () => policy);
        IUploadHandler handler = pipeline;
        return (handler.Unhandled(Upload(), new InvalidOperationException("the service broke")), stats);
    }

    [Fact]
    public async Task Under_unscreenable_review_a_failed_upload_is_a_fail_closed_review_not_a_dlq_record()
    {
        var (outcome, stats) = await UnhandledAsync(Actions.Review);

        // Before the fix the worker's pipeline had no say: the loop wrote a DLQ record whatever the policy said.
        var record = Assert.Single(Assert.IsAssignableFrom<IReadOnlyList<OutboundMessage>>(outcome));
        Assert.Equal(Topics.Review, record.Topic);
        var decision = DecisionEvent.FromUtf8Json(record.Value);
        Assert.Equal(("c-1", Actions.Review), (decision.ContentId, decision.Action));
        var reason = Assert.Single(decision.Reasons);
        Assert.Equal(("fail-closed", ErrorCodes.Internal), (reason.Source, reason.Code));
        Assert.Equal(new SourceInfo(Topics.Uploads, 2, 41), decision.Source);
        Assert.Equal(1, stats.Decisions[Actions.Review]);
        Assert.Empty(stats.DeadLetters);
    }

    [Fact]
    public async Task Under_unscreenable_dlq_a_failed_upload_is_an_internal_dlq_record_and_counted()
    {
        var (outcome, stats) = await UnhandledAsync(Policy.DeadLetter);

        var record = Assert.Single(Assert.IsAssignableFrom<IReadOnlyList<OutboundMessage>>(outcome));
        Assert.Equal(Topics.Dlq, record.Topic);
        Assert.True(record.Headers.TryGetLastBytes(DlqHeaders.ErrorCode, out var code));
        Assert.Equal(ErrorCodes.Internal, System.Text.Encoding.UTF8.GetString(code));
        Assert.Equal(1, stats.DeadLetters[ErrorCodes.Internal]);
    }
}
