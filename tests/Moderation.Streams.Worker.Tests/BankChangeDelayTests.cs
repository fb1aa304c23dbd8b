using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Media;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;

namespace Moderation.Streams.Worker.Tests;

/// <summary>"Time from import to matchable" (issue 22, item 3): a hash imported into a 20,000-hash bank while a worker
/// screens a steady stream reaches it as a change applied from its delta record (the loaded base kept, the hash beside
/// it), its next upload comes down, and the worker exports the change's delay and its index at /metrics. The times are
/// printed (with the load average), never asserted.</summary>
public sealed class BankChangeDelayTests
{
    private const int BankSize = 20_000;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_hash_imported_while_the_worker_screens_comes_down_and_the_change_delay_is_exported()
    {
        await using var stack = new EmbeddedStack();
        var target = SampleImages.Encode(SampleImages.Render(6601, 320, 240));
        var targetUrl = stack.WriteImage("target.png", target);
        var background = Enumerable.Range(0, 16).Select(i => stack.WriteImage($"bg{i}.png", SampleImages.Png(6610 + i))).ToList();
        await using var redis = await RedisConnector.ConnectAsync(stack.Redis.Configuration);
        var random = new Random(6600);
        var loaded = Enumerable.Range(0, BankSize).Select(i =>
        {
            var bytes = new byte[32];
            random.NextBytes(bytes);
            return new BankEntry("known-bad", $"old-{i}", PdqHash.FromBytes(bytes), 90, "old", "test", DateTimeOffset.UnixEpoch);
        }).ToList();
        await new RedisBankStore(redis).ImportAsync("known-bad", loaded);
        using var host = stack.StartWorker();

        // A steady stream of other uploads while the import happens.
        using var stopLoad = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var load = Task.Run(async () =>
        {
            using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = stack.Broker.BootstrapServers, LingerMs = 5 }).Build();
            for (int i = 0; !stopLoad.IsCancellationRequested; i++)
            {
                producer.Produce(Topics.Uploads, new Message<string, byte[]> { Key = $"bg-{i}", Value = EmbeddedStack.Upload($"bg-{i}", background[i % background.Count]) });
                try { await Task.Delay(20, stopLoad.Token); } catch (OperationCanceledException) { break; }
            }
            producer.Flush(TimeSpan.FromSeconds(10));
        }, CancellationToken.None);

        using var takedowns = new ConsumerBuilder<string?, byte[]>(new ConsumerConfig
        {
            BootstrapServers = stack.Broker.BootstrapServers, GroupId = "probe-" + Guid.NewGuid().ToString("N"), EnableAutoCommit = false,
        }).Build();
        takedowns.Assign(Enumerable.Range(0, EmbeddedStack.Partitions).Select(p => new TopicPartitionOffset(Topics.Takedown, p, Offset.Beginning)));
        using var probes = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = stack.Broker.BootstrapServers }).Build();
        await Task.Delay(TimeSpan.FromSeconds(2), Ct); // the stream is flowing before the import

        var image = ImageDecoder.Decode(target);
        var pdq = new PdqHasher().Hash(image.Pixels, image.Width, image.Height, image.Channels);
        var (entries, errors) = BankCsv.Read(new StringReader($"{pdq.Hash},{pdq.Quality},t-1,late"), "known-bad", "test", DateTimeOffset.UtcNow);
        Assert.Empty(errors);
        var clock = Stopwatch.StartNew();
        await new RedisBankStore(redis).ImportAsync("known-bad", entries);

        // Probe with the banked picture until an upload of it comes down (the deadline only bounds a hang).
        DecisionEvent? down = null;
        int sent = 0;
        while (down is null)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), "the import never reached the running worker");
            var key = $"probe-{sent++}";
            probes.Produce(Topics.Uploads, new Message<string, byte[]> { Key = key, Value = EmbeddedStack.Upload(key, targetUrl) });
            probes.Flush(TimeSpan.FromSeconds(10));
            var until = DateTime.UtcNow + TimeSpan.FromMilliseconds(100);
            while (down is null && DateTime.UtcNow < until)
                if (takedowns.Consume(TimeSpan.FromMilliseconds(20)) is { Message: { } m } && m.Key?.StartsWith("probe-", StringComparison.Ordinal) == true)
                    down = DecisionEvent.FromUtf8Json(m.Value);
        }
        var importToTakedown = clock.Elapsed;
        await stopLoad.CancelAsync();
        await load;

        var reason = Assert.Single(down.Reasons);
        Assert.Equal(("bank", "known-bad", "t-1"), (reason.Source, reason.Bank, reason.MatchId));

        // The worker measured the change from its write to its matcher serving it, and exports it.
        using var http = new HttpClient { BaseAddress = WorkerTelemetry.ListeningOn(host) };
        var metrics = await http.GetStringAsync("/metrics", Ct);
        double Metric(string suffix) => double.Parse(Assert.Single(Regex.Matches(metrics,
            $@"^moderation_bank_change_delay_seconds_{suffix}\{{[^}}]*bank=""known-bad""[^}}]*\}} (\S+)", RegexOptions.Multiline)).Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.Contains("moderation_bank_change_delay_seconds_bucket{", metrics);
        double count = Metric("count"), sum = Metric("sum");
        Assert.True(count >= 1, metrics);
        Assert.True(sum >= 0);
        // Applied from its delta record: the loaded base kept, the new hash beside it (the gauges cover every matcher of
        // this test process, so other tests' banks may add to them: at least ours).
        double Gauge(string name, string tag) => double.Parse(Assert.Single(Regex.Matches(metrics,
            $@"^{name}\{{[^}}]*{tag}[^}}]*\}} (\S+)", RegexOptions.Multiline)).Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(Gauge("moderation_bank_index_entries", @"part=""base""") >= BankSize, metrics);
        Assert.True(Gauge("moderation_bank_index_entries", @"part=""overlay""") >= 1, metrics);
        Assert.True(Gauge("moderation_bank_catchups_total", @"how=""delta""") >= 1, metrics);
        Assert.True(Gauge("moderation_bank_index_bytes", @"part=""index""") > 32L * BankSize, metrics);

        TestContext.Current.TestOutputHelper?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"import to first takedown {importToTakedown.TotalMilliseconds:0} ms ({sent} probes, stream of ~50 uploads/s); worker's change delay (metric) {1000 * sum / count:0} ms over {count} change(s); load average {File.ReadAllText("/proc/loadavg").Trim()}"));
        await host.StopAsync(Ct);
    }
}
