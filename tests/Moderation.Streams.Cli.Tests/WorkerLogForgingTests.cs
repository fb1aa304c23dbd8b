using System.Runtime.InteropServices;
using System.Text;
using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Embedded;
using Moderation.Streams.Media;
using static Moderation.Streams.Tests.Shared.Libc;

namespace Moderation.Streams.Cli.Tests;

/// <summary>
/// A <c>moderation worker</c> process fed uploads that carry CR/LF, ESC, NEL, U+2028, bidi overrides and lone
/// surrogates in the places its messages quote (media type, duplicate key, JSON literal, URL host), and a FIFO under
/// its media root: each gets its contract code, the partition keeps moving, and nothing the worker writes on its
/// standard output or error — its log — or in a DLQ header has a control, format or separator character in it, so no
/// upload can forge a log line or drive an operator's terminal.
/// </summary>
public sealed class WorkerLogForgingTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private const string Forged = "\r\n12:00:00.000 info: Forged[0] FORGED all clear\u001b[2J\u2028\u0085\u202E";
    private readonly DirectoryInfo _media = Directory.CreateTempSubdirectory("log-forging-");
    private string? _fifo;

    public void Dispose()
    {
        if (_fifo is not null) ReleaseBlockedReaders(_fifo);
        _media.Delete(true);
    }

    private static string Json(string text) => System.Text.Json.JsonSerializer.Serialize(text); // escapes CR, LF, ESC…

    [Fact]
    public async Task Hostile_text_in_uploads_reaches_neither_the_log_nor_dlq_headers_raw_and_the_partition_keeps_moving()
    {
        using var broker = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Partitions = 1 });
        var image = Path.Combine(_media.FullName, "good.png");
        File.WriteAllBytes(image, SampleImages.Png(5, 64, 48));
        _fifo = Path.Combine(_media.FullName, "pipe.png");
        Assert.Equal(0, mkfifo(_fifo, 0x1B6));

        var hostile = new (string Key, string Value, string Code)[]
        {
            ("media-type", "{\"content_id\":\"c-1\",\"media_type\":" + Json("im" + Forged) + ",\"media\":{\"url\":\"file:///x.png\"}}", ErrorCodes.UnsupportedMedia),
            ("surrogate-name", """{"\ud800":1,"content_id":"c-2","media_type":"image","media":{"url":"file:///x.png"}}""", ErrorCodes.InvalidEvent),
            ("duplicate-key", "{" + Json("x" + Forged) + ":1," + Json("x" + Forged) + ":2,\"content_id\":\"c-3\"}", ErrorCodes.InvalidEvent),
            ("literal", "{\"content_id\":nul" + Forged + "}", ErrorCodes.InvalidEvent),
            ("host", "{\"content_id\":\"c-5\",\"media_type\":\"image\",\"media\":{\"url\":" + Json("https://cdn.exa\u202Emple/a.png") + "}}", ErrorCodes.ForbiddenUrl),
            ("fifo", "{\"content_id\":\"c-6\",\"media_type\":\"image\",\"media\":{\"url\":" + Json(new Uri(_fifo).AbsoluteUri) + "}}", ErrorCodes.ForbiddenUrl),
        };
        using var worker = CliProcess.Start(["worker", "--kafka", broker.BootstrapServers, "--media-root", _media.FullName, "--group", "log-forging", "--telemetry-port", "-1"],
            new Dictionary<string, string?> { ["Kafka__SessionTimeoutMs"] = "6000" });
        await worker.WaitForLineAsync(l => l.Contains("Consuming uploads"), TimeSpan.FromSeconds(120), Ct);

        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = broker.BootstrapServers, Acks = Acks.All }).Build())
        {
            foreach (var (key, value, _) in hostile)
                producer.Produce(Topics.Uploads, new Message<string, byte[]> { Key = key, Value = Encoding.UTF8.GetBytes(value) });
            var good = new UploadEvent { ContentId = "c-good", MediaType = MediaTypes.Image, Media = new MediaRef { Url = new Uri(image).AbsoluteUri } };
            producer.Produce(Topics.Uploads, new Message<string, byte[]> { Key = "good", Value = UploadEventParser.Serialize(good) });
            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        // One DLQ log line per hostile upload (offsets 0..5), each a single line that names its offset.
        for (int offset = 0; offset < hostile.Length; offset++)
        {
            int at = offset;
            await worker.WaitForLineAsync(l => l.Contains("] DLQ ") && l.Contains($"@{at}: "), TimeSpan.FromSeconds(120), Ct);
        }
        var outcomes = ReadOutcomes(broker.BootstrapServers, hostile.Length + 1);
        worker.Terminate();
        Assert.Equal(0, await worker.WaitForExitAsync(TimeSpan.FromSeconds(60), Ct));

        foreach (var (key, _, code) in hostile)
        {
            var record = outcomes.SingleOrDefault(o => o.Key == key);
            Assert.True(record is not null, $"no single outcome for {key}: {string.Join(", ", outcomes.Select(o => $"{o.Topic}/{o.Key}"))}");
            Assert.Equal(Topics.Dlq, record.Topic);
            Assert.Equal(code, record.Header(DlqHeaders.ErrorCode));
            Assert.True(SafeText.IsClean(record.Header(DlqHeaders.ErrorMessage)), $"{key}: {SafeText.Escape(record.Header(DlqHeaders.ErrorMessage))}");
        }
        Assert.NotEqual(Topics.Dlq, Assert.Single(outcomes, o => o.Key == "c-good").Topic); // decisions are keyed by content_id

        var log = worker.StdoutLines.Concat(worker.StderrLines).ToList();
        Assert.All(log, line => Assert.True(SafeText.IsClean(line), "unclean log line: " + SafeText.Escape(line)));
        // The forged text is there, escaped, inside the DLQ lines; it never starts a line of its own.
        Assert.Contains(log, l => l.Contains(@"\u000D\u000A12:00:00.000 info: Forged[0] FORGED all clear\u001B[2J\u2028\u0085\u202E"));
        Assert.All(log.Where(l => l.Contains("FORGED")), l => Assert.Contains("] DLQ ", l));
        Assert.DoesNotContain(log, l => l.StartsWith("12:00:00.000 info: Forged", StringComparison.Ordinal));
    }

    private sealed record Outcome(string Topic, string Key, Headers Headers)
    {
        public string Header(string name) => Headers.TryGetLastBytes(name, out var v) ? Encoding.UTF8.GetString(v) : "";
    }

    private static List<Outcome> ReadOutcomes(string bootstrap, int count)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap, GroupId = "reader-" + Guid.NewGuid().ToString("N"), AutoOffsetReset = AutoOffsetReset.Earliest, EnableAutoCommit = false,
        }).Build();
        consumer.Subscribe([Topics.Takedown, Topics.Review, Topics.Allow, Topics.Dlq]);
        var outcomes = new List<Outcome>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (outcomes.Count < count && DateTime.UtcNow < deadline)
            if (consumer.Consume(TimeSpan.FromSeconds(1)) is { Message: not null } r)
                outcomes.Add(new Outcome(r.Topic, r.Message.Key, r.Message.Headers));
        return outcomes;
    }
}
