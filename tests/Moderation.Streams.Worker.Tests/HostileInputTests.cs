using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media;
using Moderation.Streams.Worker;

namespace Moderation.Streams.Worker.Tests;

/// <summary>
/// The committed hostile corpora (media files, events, URLs) published between good uploads on the embedded
/// stack: each hostile input gets exactly its expected DLQ code, every good neighbour gets a decision, the
/// partitions are committed to their end, and nothing secret from a hostile URL reaches a log or a DLQ header.
/// </summary>
public class HostileInputTests
{
    private const string Secret = "TOPSECRET-TOKEN";

    private static string RepoDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Moderation.Streams.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }

    private static IEnumerable<(string Name, string Expected)> Manifest(string path, char separator = ',') =>
        File.ReadLines(path).Skip(1).Select(l => l.LastIndexOf(separator)).Zip(File.ReadLines(path).Skip(1))
            .Select(x => (x.Second[..x.First], x.Second[(x.First + 1)..]));

    [Fact]
    public async Task Every_hostile_file_event_and_url_gets_its_code_and_every_neighbour_a_decision()
    {
        await using var stack = new EmbeddedStack();
        var repo = RepoDirectory();
        var mediaCorpus = Path.Combine(repo, "tests", "Moderation.Streams.Media.Tests", "corpus");
        var eventCorpus = Path.Combine(repo, "tests", "Moderation.Streams.Contracts.Tests", "corpus");

        var hostile = new List<(string Key, byte[] Value, string Expected)>();
        foreach (var (file, expected) in Manifest(Path.Combine(mediaCorpus, "manifest.csv")))
        {
            var url = stack.WriteImage(file, File.ReadAllBytes(Path.Combine(mediaCorpus, file)));
            var id = "media-" + file.Replace('.', '_'); // decisions are keyed by content_id, DLQ records by the original key
            hostile.Add((id, EmbeddedStack.Upload(id, url), expected));
        }
        foreach (var (file, expected) in Manifest(Path.Combine(eventCorpus, "manifest.csv")).Where(m => m.Expected != "ok"))
            hostile.Add(("event:" + file, File.ReadAllBytes(Path.Combine(eventCorpus, file)), expected));
        int n = 0;
        foreach (var (url, expected) in Manifest(Path.Combine(mediaCorpus, "urls.csv")))
            hostile.Add(($"url-{n}", EmbeddedStack.Upload($"url-{n++}", url), expected));
        hostile.Add(("url-signed", EmbeddedStack.Upload("url-signed", $"https://cdn.example/a.png?X-Amz-Signature={Secret}"), ErrorCodes.ForbiddenUrl));
        hostile.Add(("url-userinfo", EmbeddedStack.Upload("url-userinfo", $"https://admin:{Secret}@cdn.example/a.png"), ErrorCodes.ForbiddenUrl));
        hostile.Add(("url-file-query", EmbeddedStack.Upload("url-file-query", stack.WriteImage("q.png", SampleImages.Png(1, 32, 32)) + "?" + Secret), ErrorCodes.ForbiddenUrl));

        // good, hostile, good, hostile, ... good: every hostile input sits between two uploads that must be decided.
        var all = new List<(string Key, byte[] Value)>();
        for (int i = 0; i <= hostile.Count; i++)
        {
            all.Add(($"good-{i}", EmbeddedStack.Upload($"good-{i}", stack.WriteImage($"good-{i}.png", SampleImages.Png(1000 + i, 48, 40)))));
            if (i < hostile.Count) all.Add((hostile[i].Key, hostile[i].Value));
        }

        var logs = new CapturingLoggerProvider();
        using (var host = WorkerHost.Build(new Dictionary<string, string?>
        {
            ["Kafka:BootstrapServers"] = stack.Broker.BootstrapServers,
            ["Kafka:GroupId"] = stack.GroupId,
            ["Kafka:SessionTimeoutMs"] = "6000",
            ["Redis:Configuration"] = stack.Redis.Configuration,
            ["Media:Root"] = stack.MediaRoot.FullName,
        }, logging => logging.SetMinimumLevel(LogLevel.Debug).AddProvider(logs)))
        {
            await host.StartAsync(TestContext.Current.CancellationToken);
            await host.Services.GetRequiredService<ScreeningService>().Ready.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
            stack.Produce(all);
            var records = stack.ReadOutcomes(all.Count, deadline: TimeSpan.FromSeconds(120));
            await host.StopAsync(TestContext.Current.CancellationToken);

            var byKey = records.GroupBy(r => r.Key!).ToDictionary(g => g.Key, g => g.ToList());
            Assert.Equal(all.Select(a => a.Key).Order(), byKey.Keys.Order());
            Assert.All(byKey, kv => Assert.Single(kv.Value));
            Assert.All(all.Where(a => a.Key.StartsWith("good-", StringComparison.Ordinal)), good =>
                Assert.NotEqual(Topics.Dlq, byKey[good.Key][0].Topic));
            var wrong = hostile
                .Select(h => (h.Key, h.Expected, Got: byKey[h.Key][0].Topic == Topics.Dlq ? byKey[h.Key][0].Header(DlqHeaders.ErrorCode) : "ok"))
                .Where(x => x.Expected != x.Got)
                .Select(x => $"{x.Key}: expected {x.Expected}, got {x.Got}");
            Assert.Empty(wrong);
            Assert.All(records.Where(r => r.Topic == Topics.Dlq), r => Assert.DoesNotContain(Secret, r.Header(DlqHeaders.ErrorMessage)));
        }

        Assert.NotEmpty(logs.Lines);
        Assert.DoesNotContain(logs.Lines, l => l.Contains(Secret, StringComparison.Ordinal));
        Assert.All(stack.CommittedVsEnd(), p => Assert.Equal(p.High, p.Committed));
    }

    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Capturing(this);

        public void Dispose()
        {
        }

        private sealed class Capturing(CapturingLoggerProvider owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Lines.Enqueue($"{logLevel} {formatter(state, exception)} {exception}");
        }
    }
}
