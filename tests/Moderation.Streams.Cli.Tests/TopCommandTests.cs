using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media;

namespace Moderation.Streams.Cli.Tests;

public sealed class TopCommandTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _media = Directory.CreateTempSubdirectory("top-");

    public void Dispose() => _media.Delete(true);

    [Fact]
    public void Prometheus_text_is_read_with_labels_escapes_and_special_values()
    {
        var samples = PrometheusText.Parse("""
            # HELP x help
            # TYPE x counter
            moderation_decisions_total{action="allow",note="a \"quoted\" \\ value"} 12 1700000000
            plain 3.5
            weird{a="1"} NaN
            inf{le="+Inf"} +Inf
            """);
        Assert.Equal(4, samples.Count);
        Assert.Equal(("moderation_decisions_total", "allow", "a \"quoted\" \\ value", 12.0),
            (samples[0].Name, samples[0].Label("action"), samples[0].Label("note"), samples[0].Value));
        Assert.Equal(3.5, samples[1].Value);
        Assert.True(double.IsNaN(samples[2].Value));
        Assert.True(double.IsPositiveInfinity(samples[3].Value));
    }

    [Fact]
    public void Histogram_quantiles_interpolate_within_the_bucket()
    {
        // 100 observations: 50 up to 0.1 s, 40 more up to 0.5 s, 10 more up to 1 s.
        var buckets = PrometheusText.Parse("""
            d_bucket{le="0.1"} 50
            d_bucket{le="0.5"} 90
            d_bucket{le="1"} 100
            d_bucket{le="+Inf"} 100
            """);
        Assert.Equal(0.1, PrometheusText.Quantile(buckets, 0.5)!.Value, 6);
        Assert.Equal(0.3, PrometheusText.Quantile(buckets, 0.7)!.Value, 6);
        Assert.Equal(0.95, PrometheusText.Quantile(buckets, 0.99)!.Value, 6);
        Assert.Null(PrometheusText.Quantile([], 0.5));
    }

    [Fact]
    public async Task Top_shows_a_running_workers_status_and_flow()
    {
        using var broker = CliProcess.Start(["broker", "--partitions", "2"]);
        var bootstrap = (await broker.WaitForLineAsync(l => l.StartsWith("bootstrap="), ct: Ct))["bootstrap=".Length..];
        var path = Path.Combine(_media.FullName, "a.png");
        File.WriteAllBytes(path, SampleImages.Png(1));
        using var worker = CliProcess.Start(["worker", "--kafka", bootstrap, "--media-root", _media.FullName, "--telemetry-port", "0"],
            new Dictionary<string, string?> { ["Kafka__SessionTimeoutMs"] = "6000" });
        var telemetry = (await worker.WaitForLineAsync(l => l.StartsWith("telemetry="), TimeSpan.FromSeconds(120), Ct))["telemetry=".Length..].Split(' ')[0];
        await worker.WaitForLineAsync(l => l.Contains("Consuming uploads"), TimeSpan.FromSeconds(120), Ct);
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrap }).Build())
        {
            producer.Produce(Topics.Uploads, new Message<string, byte[]> { Key = "a", Value = UploadEventParser.Serialize(new UploadEvent { ContentId = "a", MediaType = "image", Media = new MediaRef { Url = new Uri(path).AbsoluteUri } }) });
            producer.Produce(Topics.Uploads, new Message<string, byte[]> { Key = "bad", Value = "{"u8.ToArray() });
            producer.Flush(TimeSpan.FromSeconds(30));
        }

        using var top = await CliProcess.RunAsync(["top", "--url", telemetry, "--once", "--interval", "0.5"], ct: Ct);
        var screen = string.Join('\n', top.StdoutLines);
        Assert.True(top.StdoutLines.Count > 0 && await top.WaitForExitAsync(ct: Ct) == 0, top.Transcript());
        Assert.Contains("ready", screen);
        Assert.DoesNotContain("not ready", screen);
        Assert.Contains("nsfw-mobilenet-v2@1 on cpu", screen);
        Assert.Contains("uploads/s", screen);
        Assert.Contains("lag by partition", screen);
    }

    [Fact]
    public async Task Top_against_nothing_fails_with_a_clear_message()
    {
        using var top = await CliProcess.RunAsync(["top", "--url", "http://127.0.0.1:1", "--once"], ct: Ct);
        Assert.Equal(1, await top.WaitForExitAsync(ct: Ct));
        Assert.Contains("cannot read", top.Transcript());
    }
}
