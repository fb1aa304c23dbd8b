using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.DependencyInjection;
using Moderation.Streams.Kafka;
using Moderation.Streams.Worker;

namespace Moderation.Streams.Worker.Tests;

/// <summary>Every settings section binds straight to its library's options class and is validated before anything
/// starts: by the host (ValidateOnStart) and by verbs that build a pipeline without it (replay).</summary>
public sealed class ScreeningSettingsTests
{
    private static ScreeningSettings Bind(params (string Key, string Value)[] settings) =>
        ScreeningSettings.Bind(new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value))).Build());

    [Fact]
    public void Every_section_binds_directly_to_its_options_class()
    {
        var settings = Bind(("Banks:MaxDistance", "20"), ("Banks:FullReloadInterval", "00:05:00"), ("Banks:WhenUnavailable", "model"),
            ("Inference:MaxQueueDelayMs", "7"), ("Media:MaxBytes", "1000"), ("Media:Decode:MaxAnimationFrames", "12"), ("Media:Retry:MaxRetries", "4"),
            ("Redis:DecisionTtl", "01:00:00"));
        Assert.Equal(20, settings.Banks.Match.MaxDistance); // what the matcher matches with, without a second class in between
        Assert.Equal(TimeSpan.FromMinutes(5), settings.Banks.FullReloadInterval);
        Assert.False(settings.Banks.FailClosed);
        Assert.Equal(TimeSpan.FromMilliseconds(7), settings.Inference!.Batcher(1).MaxQueueDelay);
        Assert.Equal((1000, 12), (settings.Media.MaxBytes, settings.Media.Decode.MaxAnimationFrames));
        Assert.Equal(4, settings.MediaRetry!.MaxRetries);
        Assert.Equal(TimeSpan.FromHours(1), settings.Redis.DecisionTtl);
    }

    [Fact]
    public void Defaults_are_valid_and_keep_the_worker_defaults()
    {
        var settings = Bind();
        Assert.Equal((31, 50, true), (settings.Banks.Match.MaxDistance, settings.Banks.Match.MinQuality, settings.Banks.Match.Dihedral));
        Assert.Equal(TimeSpan.FromMinutes(15), settings.Banks.FullReloadInterval);
        Assert.True(settings.Banks.FailClosed);
        Assert.Equal(Inference.InferenceDevice.Auto, settings.Inference!.Device);
        Assert.Equal(512, settings.Media.Decode.JpegScaleMinSide); // the worker decodes large JPEGs scaled
    }

    [Theory]
    [InlineData("Banks", "Banks:MaxDistance", "60")]
    [InlineData("Banks", "Banks:WhenUnavailable", "allow")]
    [InlineData("Banks", "Banks:RefreshInterval", "00:30:00")] // longer than the 15-minute full reload
    [InlineData("Banks", "Banks:KeyPrefix", "a{b}")]
    [InlineData("Media", "Media:MaxBytes", "0")]
    [InlineData("Media", "Media:FetchTimeout", "00:00:00")]
    [InlineData("Media", "Media:Decode:MaxAnimationFrames", "0")]
    [InlineData("Media", "Media:Video:FfmpegPath", " ")]
    [InlineData("Media:Retry", "Media:Retry:BreakerFailureRatio", "2")]
    [InlineData("Media:Retry", "Media:Retry:BreakerBreakDuration", "00:00:00.1")]
    [InlineData("Redis", "Redis:DecisionTtl", "00:00:00")]
    [InlineData("Inference", "Inference:MaxBatchSize", "0")]
    [InlineData("Kafka", "Kafka:BootstrapServers", "")]
    public void A_bad_setting_in_any_section_is_refused_with_its_section_named(string section, string key, string value)
    {
        var e = Assert.Throws<OptionsValidationException>(() => Bind((key, value)));
        Assert.Equal(section, e.OptionsName);
        Assert.All(e.Failures, f => Assert.StartsWith(section + ":", f));
    }

    [Fact]
    public async Task The_host_refuses_to_start_on_a_bad_media_setting()
    {
        using var host = WorkerHost.Build(new Dictionary<string, string?> { ["Media:Decode:MaxFramesDecoded"] = "0", ["Kafka:BootstrapServers"] = "127.0.0.1:1" });
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));
        Assert.Contains("MaxFramesDecoded", string.Join(" ", e.Failures));
    }

    [Fact]
    public void The_worker_joins_as_a_static_member_named_after_its_host_unless_configured_otherwise()
    {
        KafkaOptions Kafka(Dictionary<string, string?> overrides)
        {
            using var host = WorkerHost.Build(overrides, defaults: WorkerHost.WorkerDefaults);
            return host.Services.GetRequiredService<IOptions<KafkaOptions>>().Value;
        }
        Assert.Equal(Environment.MachineName, KafkaClientConfig.Consumer(Kafka([])).GroupInstanceId);
        Assert.Equal("worker-7", KafkaClientConfig.Consumer(Kafka(new() { ["Kafka:GroupInstanceId"] = "worker-7" })).GroupInstanceId);
        Assert.Null(KafkaClientConfig.Consumer(Kafka(new() { ["Kafka:GroupInstanceId"] = "" })).GroupInstanceId);
    }
}
