using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Moderation.Streams.Contracts;
using Moderation.Streams.Inference;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media;

namespace Moderation.Streams.Worker.Tests;

/// <summary><c>Text:MaxCaptionChars</c> and <c>Text:MaxTextChars</c>: bound and validated like every section, defaulting to
/// the contract's limits, and applied by the pipeline when it parses an event.</summary>
public sealed class TextSettingsTests
{
    private sealed class Unused : IImageClassifier
    {
        public ModelDescriptor Model { get; } = new("unused", 1, "", 224, ClassLabels.All);
        public string Device => "test";
        public IReadOnlyList<ClassScores> Classify(IReadOnlyList<DecodedImage> images) => throw new InvalidOperationException("not used");
        public void Dispose() { }
    }

    private static ScreeningSettings Bind(params (string Key, string Value)[] settings) =>
        ScreeningSettings.Bind(new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value))).Build());

    [Fact]
    public void The_text_section_binds_defaults_to_the_contract_and_refuses_a_zero_limit()
    {
        Assert.Equal((4_000, 10_000), (Bind().Text!.MaxCaptionChars, Bind().Text!.MaxTextChars));
        var limits = Bind(("Text:MaxCaptionChars", "12"), ("Text:MaxTextChars", "5")).Text!.ToEventLimits();
        Assert.Equal((12, 5), (limits.MaxCaptionChars, limits.MaxTextChars));
        Assert.Equal(EventLimits.Default.MaxEventBytes, limits.MaxEventBytes);
        var e = Assert.Throws<OptionsValidationException>(() => Bind(("Text:MaxCaptionChars", "0")));
        Assert.Contains(e.Failures, f => f.StartsWith("Text:", StringComparison.Ordinal) && f.Contains("MaxCaptionChars"));
    }

    [Fact]
    public async Task The_pipeline_parses_events_with_the_configured_limits()
    {
        await using var batcher = new DynamicBatcher(new Unused());
        var services = new ScreenerServices { Batcher = batcher, Stats = new ScreeningStats(), Logger = NullLogger.Instance };
        var limits = new TextOptions { MaxTextChars = 5 }.ToEventLimits();
        using var pipeline = new ScreeningPipeline(new KafkaOptions(), new ScreeningOptions(), new MediaReader(new MediaOptions()), services, () => Policy.Default,
            limits: limits);
        ConsumeResult<byte[]?, byte[]?> Item(string id, string text) => new()
        {
            TopicPartitionOffset = new TopicPartitionOffset(Topics.Uploads, 0, 7),
            Message = new Message<byte[]?, byte[]?>
            {
                Key = Encoding.UTF8.GetBytes(id), Value = Encoding.UTF8.GetBytes($$"""{"content_id":"{{id}}","media_type":"text","text":"{{text}}"}"""), Headers = [],
            },
        };

        var shortEnough = Assert.Single(await pipeline.HandleAsync(Item("ok", "hello"), TestContext.Current.CancellationToken));
        Assert.Equal(Topics.Review, shortEnough.Topic); // no text bank: not screened, so review
        var tooLong = Assert.Single(await pipeline.HandleAsync(Item("long", "hello!"), TestContext.Current.CancellationToken));
        Assert.Equal(ErrorCodes.InvalidEvent, Encoding.UTF8.GetString(tooLong.Headers.GetLastBytes(DlqHeaders.ErrorCode)));
    }
}
