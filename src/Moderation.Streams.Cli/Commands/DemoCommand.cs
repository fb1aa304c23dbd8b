using System.CommandLine;
using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Embedded;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media;
using Moderation.Streams.Redis;
using Moderation.Streams.Worker;
using Moderation.Streams.Worker.Logging;
using Spectre.Console;

namespace Moderation.Streams.Cli.Commands;

/// <summary>
/// Runs the whole system in-process on the embedded stack: the librdkafka mock cluster, an embedded Garnet
/// server and the bundled model. Publishes generated sample uploads (distinct images, exact and near
/// duplicates, and broken events), shows the decisions live and prints a summary.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var images = new Option<int>("--images") { Description = "Distinct generated images", DefaultValueFactory = _ => 40 };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for all decisions", DefaultValueFactory = _ => 90 };
        var linger = new Option<int>("--linger") { Description = "Seconds to keep the stack running after the summary, with the review console up (its address and a one-time login are printed; look at /metrics, run 'moderation top')", DefaultValueFactory = _ => 0 };
        var telemetryPort = new Option<int>("--telemetry-port") { Description = "Port of the worker's /metrics, /healthz, /readyz (0 = any free port)", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json")
        {
            Description = "Standard output is NDJSON only: one JSON object per decision or DLQ record, then one {\"summary\":…} object; " +
                          "progress, the summary table and logs go to standard error",
        };
        var command = new Command("demo", "Runs broker, store and worker in-process, streams sample uploads through them and shows the decisions.")
        {
            images, timeout, json, linger, telemetryPort,
        };
        command.SetAction(async (parse, ct) => await RunAsync(parse.GetValue(images), TimeSpan.FromSeconds(parse.GetValue(timeout)), parse.GetValue(json),
            TimeSpan.FromSeconds(parse.GetValue(linger)), parse.GetValue(telemetryPort), ct));
        return command;
    }

    private sealed record Sample(string ContentId, string Kind, string Expect, byte[] Event, string? Traceparent = null);

    private sealed record Outcome(string ContentId, string Topic, string Action, string Detail, long LatencyMs, bool Cached);

    private static async Task<int> RunAsync(int distinct, TimeSpan timeout, bool json, TimeSpan linger, int telemetryPort, CancellationToken ct)
    {
        if (distinct < 1) { Console.Error.WriteLine("moderation demo: --images must be at least 1"); return ExitCodes.Usage; }
        // --json: standard output carries the JSON lines alone; everything meant for a person goes to standard error.
        var console = json ? AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }) : AnsiConsole.Console;
        var mediaRoot = Directory.CreateTempSubdirectory("moderation-demo-");
        try
        {
            console.MarkupLine("[bold]Moderation.Streams demo[/] — embedded Kafka-protocol broker, embedded Garnet, bundled ONNX model");
            var watch = Stopwatch.StartNew();
            using var broker = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Partitions = 4 });
            await using var redis = EmbeddedRedisServer.Start();
            console.MarkupLine($"broker [green]{broker.BootstrapServers}[/], store [green]{redis.Configuration.Split(',')[0]}[/] ({watch.ElapsedMilliseconds} ms)");

            var (firstWave, secondWave) = BuildSamples(mediaRoot.FullName, distinct);
            var all = firstWave.Concat(secondWave).ToList();
            await BankKnownBadAsync(redis.Configuration);
            console.MarkupLine("bank [green]demo-known-bad[/]: the PDQ hash of one picture, as if taken down before; its re-uploads follow");
            await BankTextAsync(redis.Configuration);
            console.MarkupLine("text banks [green]demo-scams[/] (terms) and [green]demo-phishing[/] (domains): captions and comments are screened against them");

            var overrides = new Dictionary<string, string?>
            {
                ["Kafka:BootstrapServers"] = broker.BootstrapServers,
                ["Kafka:GroupId"] = "moderation-demo",
                ["Kafka:SessionTimeoutMs"] = "6000",
                ["Redis:Configuration"] = redis.Configuration,
                ["Media:Root"] = mediaRoot.FullName,
                ["Telemetry:Port"] = telemetryPort.ToString(),
            };
            using var host = WorkerHost.Build(overrides, logging =>
            {
                logging.AddFilter((_, level) => level >= LogLevel.Warning).AddSafeConsole();
                // The console logger writes to standard output by default: not with --json.
                if (json) logging.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
            });
            await host.StartAsync(ct);
            var service = host.Services.GetRequiredService<ScreeningService>();
            await service.Ready.WaitAsync(TimeSpan.FromSeconds(60), ct);
            console.MarkupLine($"worker ready ({watch.ElapsedMilliseconds} ms): {all.Count} uploads to screen, {all.Count(s => s.Expect == "dlq")} of them broken on purpose");
            var telemetry = WorkerTelemetry.ListeningOn(host);
            if (telemetry is not null)
                console.MarkupLine($"worker telemetry: [green]{Markup.Escape(telemetry.ToString())}metrics[/], /healthz, /readyz (moderation top --url {Markup.Escape(telemetry.ToString().TrimEnd('/'))})");

            var outcomes = new Dictionary<string, Outcome>();
            var screening = Stopwatch.StartNew();
            using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = broker.BootstrapServers, EnableIdempotence = true, Acks = Acks.All }).Build();
            using var reader = new ConsumerBuilder<string?, byte[]>(new ConsumerConfig
            {
                BootstrapServers = broker.BootstrapServers,
                GroupId = "moderation-demo-reader",
                AutoOffsetReset = AutoOffsetReset.Earliest,
                EnableAutoCommit = false,
            }).Build();
            reader.AssignOutcomes(4);

            var table = new Table().Border(TableBorder.Rounded).Expand()
                .AddColumn("content_id").AddColumn("kind").AddColumn("outcome").AddColumn("detail").AddColumn(new TableColumn("ms").RightAligned());
            var deadline = DateTime.UtcNow + timeout;

            void Publish(IEnumerable<Sample> wave)
            {
                foreach (var s in wave)
                {
                    var message = new Message<string, byte[]> { Key = s.ContentId, Value = s.Event };
                    if (s.Traceparent is not null) message.Headers = new Headers { { "traceparent", Encoding.ASCII.GetBytes(s.Traceparent) } };
                    producer.Produce(Topics.Uploads, message);
                }
                producer.Flush(TimeSpan.FromSeconds(10));
            }

            void Collect(int until, Action onNew)
            {
                while (outcomes.Count < until && DateTime.UtcNow < deadline && !ct.IsCancellationRequested)
                {
                    var r = reader.Consume(TimeSpan.FromMilliseconds(200));
                    if (r?.Message is null) continue;
                    var outcome = Describe(r);
                    if (outcomes.TryAdd(outcome.ContentId, outcome)) onNew();
                    else outcomes[outcome.ContentId] = outcome; // a redelivery carries the same decision
                }
            }

            var kinds = all.ToDictionary(s => s.ContentId, s => s.Kind);
            bool plain = false;
            void AddRow(Outcome o)
            {
                if (plain)
                {
                    Console.WriteLine($"{o.ContentId,-14} {kinds.GetValueOrDefault(o.ContentId),-28} {o.Action + (o.Cached ? " (cached)" : ""),-17} {o.Detail}");
                    return;
                }
                if (json)
                {
                    Console.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
                    {
                        content_id = o.ContentId, kind = kinds.GetValueOrDefault(o.ContentId), outcome = o.Action, topic = o.Topic,
                        latency_ms = o.LatencyMs, cached = o.Cached, detail = o.Detail,
                    }));
                    return;
                }
                var colour = o.Action switch { "takedown" => "red", "review" => "yellow", "allow" => "green", _ => "grey" };
                table.AddRow(Markup.Escape(o.ContentId), Markup.Escape(kinds.GetValueOrDefault(o.ContentId) ?? "?"),
                    $"[{colour}]{Markup.Escape(o.Action)}[/]{(o.Cached ? " (cached)" : "")}", Markup.Escape(o.Detail), o.LatencyMs.ToString());
                while (table.Rows.Count > 18) table.Rows.RemoveAt(0);
            }

            void RunWaves(Action refresh)
            {
                Publish(firstWave);
                Collect(firstWave.Count, () => { AddRow(outcomes.Values.Last()); refresh(); });
                // The second wave repeats images already decided: exact duplicates come from the decision cache.
                Publish(secondWave);
                Collect(all.Count, () => { AddRow(outcomes.Values.Last()); refresh(); });
            }

            if (json || !console.Profile.Capabilities.Interactive)
            {
                // Not a terminal: one plain line per outcome instead of a live table.
                plain = !json;
                RunWaves(() => { });
            }
            else
            {
                await console.Live(table).StartAsync(async live => { RunWaves(live.Refresh); await Task.CompletedTask; });
            }
            screening.Stop();

            var stats = host.Services.GetRequiredService<ScreeningStats>();
            int result = PrintSummary(console, all, outcomes, stats, screening.Elapsed, watch.Elapsed, json);
            if (linger > TimeSpan.Zero && !ct.IsCancellationRequested)
            {
                // The review console on the same stack, with a one-time login: the demo's review decisions are its queue.
                var password = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12)).Replace('+', 'x').Replace('/', 'y');
                var usersFile = Path.Combine(mediaRoot.FullName, "review-users.json");
                Moderation.Streams.Review.ReviewUsers.AddOrReplace(usersFile, "demo", Moderation.Streams.Review.ReviewRoles.Admin, password);
                await using var review = Moderation.Streams.Review.ReviewHost.Build(new Dictionary<string, string?>(overrides)
                {
                    ["Review:Port"] = "0", ["Review:TelemetryPort"] = "-1", ["Review:BindAddress"] = "127.0.0.1", ["Review:UsersFile"] = usersFile,
                }, logging => logging.AddFilter((_, level) => level >= LogLevel.Warning).AddSafeConsole());
                await review.StartAsync(ct);
                var (reviewAddress, _) = Moderation.Streams.Review.ReviewHost.ListeningOn(review);
                // One plain line (not wrapped to the terminal's width): scripts read the address and the password from it.
                (json ? Console.Error : Console.Out).WriteLine($"review console: {reviewAddress} (log in as demo with the one-time password {password})");
                console.MarkupLine($"keeping the stack up for {linger.TotalSeconds:0} s (Ctrl+C to stop)");
                try { await Task.Delay(linger, ct); } catch (OperationCanceledException) { }
                await review.StopAsync(CancellationToken.None);
            }
            await host.StopAsync(CancellationToken.None);
            return result;
        }
        finally
        {
            try { mediaRoot.Delete(recursive: true); } catch (IOException) { }
        }
    }

    private static Outcome Describe(ConsumeResult<string?, byte[]> r)
    {
        if (r.Topic == Topics.Dlq)
        {
            string Header(string name) => r.Message.Headers.TryGetLastBytes(name, out var v) ? Encoding.UTF8.GetString(v) : "";
            var id = r.Message.Key ?? UploadEventParser.TryReadContentId(r.Message.Value) ?? $"offset-{Header(DlqHeaders.SourceOffset)}";
            return new Outcome(id, r.Topic, "dlq", $"{Header(DlqHeaders.ErrorCode)}: {Header(DlqHeaders.ErrorMessage)}", 0, false);
        }
        var d = DecisionEvent.FromUtf8Json(r.Message.Value);
        string detail = d.Reasons.Count > 0
            ? string.Join("; ", d.Reasons.Select(x => x.Source == "bank" ? $"bank {x.Bank} match {x.MatchId} at distance {x.Distance}"
                : x.Source == "text" ? $"{x.Field} matches {x.Kind} {x.Id} ({x.Category}) at {x.Start}-{x.End}" : x.Label is not null ? $"{x.Label} {x.Score:0.00} ≥ {x.Threshold:0.00}" : $"{x.Source} {x.Code}"))
            : d.Scores is { } s ? $"top {s.MaxBy(kv => kv.Value).Key} {s.Values.Max():0.00}" : "";
        return new Outcome(d.ContentId, r.Topic, d.Action, detail, d.LatencyMs, d.Cached);
    }

    private static int PrintSummary(IAnsiConsole console, List<Sample> all, Dictionary<string, Outcome> outcomes, ScreeningStats stats, TimeSpan screening, TimeSpan total, bool json)
    {
        var summary = new Table().Border(TableBorder.Rounded).Title("[bold]summary[/]").AddColumn("what").AddColumn(new TableColumn("count").RightAligned());
        foreach (var action in Actions.All) summary.AddRow(action, outcomes.Values.Count(o => o.Action == action).ToString());
        foreach (var group in outcomes.Values.Where(o => o.Action == "dlq").GroupBy(o => o.Detail.Split(':')[0]).OrderBy(g => g.Key))
            summary.AddRow($"dlq: {Markup.Escape(group.Key)}", group.Count().ToString());
        summary.AddRow("cache hits", outcomes.Values.Count(o => o.Cached).ToString());
        summary.AddRow("redis unavailable", stats.CacheUnavailableCount.ToString());
        var latencies = outcomes.Values.Where(o => o.Action != "dlq").Select(o => o.LatencyMs).Order().ToList();
        if (latencies.Count > 0)
        {
            summary.AddRow("latency p50 ms", latencies[latencies.Count / 2].ToString());
            summary.AddRow("latency p99 ms", latencies[Math.Min(latencies.Count - 1, (int)(latencies.Count * 0.99))].ToString());
        }
        summary.AddRow("throughput uploads/s", (outcomes.Count / Math.Max(0.001, screening.TotalSeconds)).ToString("0.0"));
        console.Write(summary);

        var missing = all.Where(s => !outcomes.ContainsKey(s.ContentId)).Select(s => s.ContentId).ToList();
        var wrong = all.Where(s => outcomes.TryGetValue(s.ContentId, out var o) && (s.Expect == "dlq") != (o.Action == "dlq")).Select(s => s.ContentId).ToList();
        console.MarkupLine($"{outcomes.Count} of {all.Count} uploads decided in {screening.TotalSeconds:0.0} s (whole demo {total.TotalSeconds:0.0} s)");
        if (json)
        {
            var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
            foreach (var o in outcomes.Values) counts[o.Action] = counts.GetValueOrDefault(o.Action) + 1;
            Console.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
            {
                summary = new
                {
                    uploads = all.Count, decided = outcomes.Count, outcomes = counts, cache_hits = outcomes.Values.Count(o => o.Cached),
                    missing, unexpected = wrong, ok = missing.Count == 0 && wrong.Count == 0,
                },
            }));
        }
        if (missing.Count > 0 || wrong.Count > 0)
        {
            console.MarkupLine($"[red]FAILED[/]: missing {missing.Count} ({Markup.Escape(string.Join(",", missing.Take(5)))}), unexpected outcome {wrong.Count} ({Markup.Escape(string.Join(",", wrong.Take(5)))})");
            return ExitCodes.Failure;
        }
        console.MarkupLine("[green]every upload has exactly one decision or DLQ record[/]");
        return ExitCodes.Ok;
    }

    private const int KnownBadSeed = 7777;

    /// <summary>Puts the PDQ hash of one generated picture into a bank, as trust &amp; safety would after a takedown.</summary>
    private static async Task BankKnownBadAsync(string redisConfiguration)
    {
        await using var connection = await RedisConnector.ConnectAsync(redisConfiguration);
        var image = ImageDecoder.Decode(SampleImages.Png(KnownBadSeed));
        var pdq = new Hashing.PdqHasher().Hash(image.Pixels, image.Width, image.Height, image.Channels);
        await new Redis.Banks.RedisBankStore(connection).ImportAsync("demo-known-bad",
            [new Hashing.Banks.BankEntry("demo-known-bad", $"known-bad-{KnownBadSeed}", pdq.Hash, pdq.Quality, "demo", "demo", DateTimeOffset.UtcNow)]);
    }

    /// <summary>A term bank and a domain bank, as trust &amp; safety would import them with <c>bank import --kind</c>.</summary>
    private static async Task BankTextAsync(string redisConfiguration)
    {
        await using var connection = await RedisConnector.ConnectAsync(redisConfiguration);
        var store = new Redis.TextBanks.RedisTextBankStore(connection);
        await store.ImportAsync("demo-scams", Redis.TextBanks.TextBankKinds.Terms, new StringReader("pattern,category,id\nfree crypto,scam,scam-1\n"));
        await store.ImportAsync("demo-phishing", Redis.TextBanks.TextBankKinds.Domains, new StringReader("domain,category,id\nlogin-verify.example,phishing,phish-1\n"));
    }

    private static (List<Sample> First, List<Sample> Second) BuildSamples(string root, int distinct)
    {
        var first = new List<Sample>();
        var second = new List<Sample>();
        string Url(string file) => new Uri(Path.Combine(root, file)).AbsoluteUri;
        byte[] Event(string id, string url, string mediaType = MediaTypes.Image, string? caption = null) => UploadEventParser.Serialize(new UploadEvent
        {
            ContentId = id, UploaderId = "demo-user", MediaType = mediaType, Media = new MediaRef { Url = url }, Caption = caption, CreatedAt = DateTimeOffset.UtcNow,
        });
        byte[] Comment(string id, string text) => UploadEventParser.Serialize(new UploadEvent
        {
            ContentId = id, UploaderId = "demo-user", MediaType = MediaTypes.Text, Text = text, CreatedAt = DateTimeOffset.UtcNow,
        });

        for (int i = 0; i < distinct; i++)
        {
            bool png = i % 2 == 0;
            var file = $"img-{i:D3}.{(png ? "png" : "jpg")}";
            File.WriteAllBytes(Path.Combine(root, file), png ? SampleImages.Png(1000 + i) : SampleImages.Jpeg(1000 + i));
            first.Add(new Sample($"img-{i:D3}", png ? "image png" : "image jpeg", "decision", Event($"img-{i:D3}", Url(file)),
                i == 0 ? "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" : null));
        }
        // Synthetic skin-toned plasma: the small model scores some of these high on "porn" (false positives),
        // which shows the review band at work.
        for (int i = 0; i < 6; i++)
        {
            var file = $"plasma-{i:D3}.png";
            File.WriteAllBytes(Path.Combine(root, file), SampleImages.Plasma(500 + i));
            first.Add(new Sample($"plasma-{i:D3}", "synthetic plasma", "decision", Event($"plasma-{i:D3}", Url(file))));
        }
        // Captions screened beside the picture (a match raises the action, never lowers it), and text-only comments.
        first.Add(new Sample("caption-benign", "caption: benign", "decision", Event("caption-benign", Url("img-000.png"), caption: "sunset at the lake #nofilter")));
        first.Add(new Sample("caption-scam", "caption: obfuscated scam", "decision", Event("caption-scam", Url("img-000.png"), caption: "ｆｒ\u200Bｅｅ c.r.y.p.t.o giveaway, DM me")));
        first.Add(new Sample("caption-link", "caption: defanged link", "decision", Event("caption-link", Url("img-000.png"), caption: "verify your account at hxxps://login-verify[.]example/x")));
        first.Add(new Sample("comment-ok", "text comment", "decision", Comment("comment-ok", "what a shot!")));
        first.Add(new Sample("comment-scam", "text comment: scam", "decision", Comment("comment-scam", "F R E E  crypto for everyone, DM")));

        // Inline media, as base64 data in the event.
        first.Add(new Sample("inline-000", "inline data", "decision", UploadEventParser.Serialize(new UploadEvent
        {
            ContentId = "inline-000", MediaType = MediaTypes.Image, Media = new MediaRef { Data = SampleImages.Png(4242, 160, 120) },
        })));

        // Broken on purpose: each must cost one DLQ record, never a crash or a lost neighbour.
        File.WriteAllBytes(Path.Combine(root, "corrupt.jpg"), Encoding.ASCII.GetBytes("this is not really a jpeg"));
        var truncated = SampleImages.Jpeg(77);
        File.WriteAllBytes(Path.Combine(root, "truncated.jpg"), truncated[..(truncated.Length / 2)]);
        first.Add(new Sample("bad-json", "broken: not JSON", "dlq", Encoding.UTF8.GetBytes("{\"content_id\":\"bad-json\",")));
        first.Add(new Sample("bad-dupkey", "broken: duplicate key", "dlq", Encoding.UTF8.GetBytes("{\"content_id\":\"bad-dupkey\",\"content_id\":\"x\",\"media_type\":\"image\",\"media\":{\"url\":\"file:///x.png\"}}")));
        first.Add(new Sample("bad-audio", "broken: media_type audio", "dlq", Event("bad-audio", Url("img-000.png"), "audio")));
        first.Add(new Sample("bad-escape", "hostile: file outside root", "dlq", Event("bad-escape", "file:///etc/passwd")));
        first.Add(new Sample("bad-ssrf", "hostile: metadata URL", "dlq", Event("bad-ssrf", "http://169.254.169.254/latest/meta-data/")));
        first.Add(new Sample("bad-missing", "broken: file missing", "dlq", Event("bad-missing", Url("nope.png"))));
        first.Add(new Sample("bad-corrupt", "broken: not an image", "dlq", Event("bad-corrupt", Url("corrupt.jpg"))));
        first.Add(new Sample("bad-truncated", "broken: truncated JPEG", "dlq", Event("bad-truncated", Url("truncated.jpg"))));

        // Videos (when ffmpeg is installed): one decision each, broken ones to the DLQ; the MP4 again in the second wave comes from the cache.
        foreach (var video in DemoVideos.Generate(root))
        {
            var id = Path.GetFileNameWithoutExtension(video.File);
            first.Add(new Sample(id, video.Kind, video.Dlq ? "dlq" : "decision", Event(id, Url(video.File), MediaTypes.Video)));
            if (id == "video-testsrc") second.Add(new Sample("dup-video", "exact duplicate video", "decision", Event("dup-video", Url(video.File), MediaTypes.Video)));
        }

        // Second wave: exact duplicates (same pixels, new content_id) and near-duplicates (resized, re-encoded).
        for (int i = 0; i < Math.Min(distinct, 10); i++)
        {
            var file = $"img-{i:D3}.{(i % 2 == 0 ? "png" : "jpg")}";
            second.Add(new Sample($"dup-{i:D3}", "exact duplicate", "decision", Event($"dup-{i:D3}", Url(file))));
        }
        for (int i = 0; i < Math.Min(distinct, 4); i++)
        {
            var file = $"near-{i:D3}.jpg";
            File.WriteAllBytes(Path.Combine(root, file), SampleImages.NearDuplicate(1000 + i));
            second.Add(new Sample($"near-{i:D3}", "near duplicate", "decision", Event($"near-{i:D3}", Url(file))));
        }
        // Re-uploads of banked content: taken down by the bank match, without inference.
        File.WriteAllBytes(Path.Combine(root, "known-bad-copy.png"), SampleImages.Png(KnownBadSeed));
        File.WriteAllBytes(Path.Combine(root, "known-bad-resized.jpg"), SampleImages.NearDuplicate(KnownBadSeed));
        second.Add(new Sample("known-bad-copy", "re-upload of banked picture", "decision", Event("known-bad-copy", Url("known-bad-copy.png"))));
        second.Add(new Sample("known-bad-edit", "banked picture resized+JPEG", "decision", Event("known-bad-edit", Url("known-bad-resized.jpg"))));
        return (first, second);
    }
}
