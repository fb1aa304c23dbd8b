using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Embedded;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media;

namespace Moderation.Streams.Cli.Commands;

/// <summary>
/// The chaos suite: a <c>moderation broker</c> process, several <c>moderation worker</c> processes, a
/// Redis server, many uploads (some broken); a worker is killed with SIGKILL every few seconds and
/// restarted, Redis is restarted once. At the end every upload must have a decision or a DLQ record:
/// prints the counts, each kill's duplicates by cause (<see cref="DuplicateLedger"/>) and a one-line verdict, exits 1
/// on any loss. A run of the same size without kills comes first, for <c>RATIO chaos_goodput_vs_no_kills</c>.
/// </summary>
internal static class ChaosCommand
{
    public static Command Create()
    {
        var uploads = new Option<int>("--uploads") { Description = "Uploads to publish", DefaultValueFactory = _ => 20_000 };
        var workers = new Option<int>("--workers") { Description = "Worker processes", DefaultValueFactory = _ => 3 };
        var broken = new Option<double>("--broken-percent") { Description = "Share of broken uploads (invalid events)", DefaultValueFactory = _ => 1.0 };
        var killEvery = new Option<double>("--kill-every") { Description = "Seconds between SIGKILLs of a random worker (0: never)", DefaultValueFactory = _ => 8 };
        var partitions = new Option<int>("--partitions") { Description = "Partitions of the uploads topic", DefaultValueFactory = _ => 12 };
        var mode = new Option<string>("--mode") { Description = "at-least-once or exactly-once", DefaultValueFactory = _ => DeliveryModes.AtLeastOnce };
        mode.AcceptOnlyFromAmong(DeliveryModes.AtLeastOnce, DeliveryModes.ExactlyOnce);
        var timeout = new Option<int>("--timeout") { Description = "Seconds before giving up (each run)", DefaultValueFactory = _ => 900 };
        var rate = new Option<int>("--rate") { Description = "Uploads published per second while the chaos runs (0: all at once)", DefaultValueFactory = _ => 1000 };
        var sessionTimeout = new Option<int>("--session-timeout") {
            Description = "Workers' Kafka:SessionTimeoutMs. The embedded broker ignores static membership and lets each rebalance take " +
                "this less 1 s, so a killed worker's partitions move after about this long", DefaultValueFactory = _ => 3000 };
        var noBaseline = new Option<bool>("--no-baseline") { Description = "Skip the run without kills that RATIO chaos_goodput_vs_no_kills compares against" };
        var command = new Command("chaos", "Chaos suite: broker + worker processes, SIGKILLs and a Redis restart; verifies that no upload is lost, " +
            "attributes each duplicate decision to its kill and cause (uncommitted, in flight, rebalance), and compares the wall time " +
            "with a run of the same size without kills (RATIO chaos_goodput_vs_no_kills).")
        {
            uploads, workers, broken, killEvery, partitions, mode, timeout, rate, sessionTimeout, noBaseline,
        };
        command.SetAction(async (parse, ct) => await RunAsync(new Settings(parse.GetValue(uploads), parse.GetValue(workers), parse.GetValue(broken),
            parse.GetValue(killEvery), parse.GetValue(partitions), parse.GetValue(mode)!, TimeSpan.FromSeconds(parse.GetValue(timeout)), parse.GetValue(rate),
            parse.GetValue(sessionTimeout), !parse.GetValue(noBaseline)), ct));
        return command;
    }

    private sealed record Settings(int Uploads, int Workers, double BrokenPercent, double KillEvery, int Partitions, string Mode, TimeSpan Timeout, int Rate,
        int SessionTimeoutMs, bool Baseline);

    private sealed record RunResult(bool Pass, TimeSpan AllDecided);

    private static async Task<int> RunAsync(Settings s, CancellationToken ct)
    {
        if (s.Uploads < 1 || s.Workers < 1 || s.Partitions < 1 || s.BrokenPercent is < 0 or > 100 || s.SessionTimeoutMs < 1000)
        {
            Console.Error.WriteLine("moderation chaos: --uploads, --workers and --partitions must be positive, --broken-percent 0-100, --session-timeout at least 1000");
            return ExitCodes.Usage;
        }
        // The same uploads without kills first: the goodput the kills are measured against.
        RunResult? baseline = s.Baseline && s.KillEvery > 0 ? await RunOnceAsync(s with { KillEvery = 0 }, "baseline", ct) : null;
        var chaos = await RunOnceAsync(s, "chaos", ct);
        if (baseline is not null)
            Console.WriteLine($"RATIO chaos_goodput_vs_no_kills {baseline.AllDecided.TotalSeconds / chaos.AllDecided.TotalSeconds:0.00} goal 0.4");
        return chaos.Pass && baseline?.Pass != false ? ExitCodes.Ok : ExitCodes.Failure;
    }

    private static async Task<RunResult> RunOnceAsync(Settings s, string name, CancellationToken ct)
    {
        var media = Directory.CreateTempSubdirectory("moderation-chaos-");
        var processes = new List<ModerationProcess>();
        var clock = Stopwatch.StartNew();
        void Say(string text) => Console.WriteLine($"[{name} {clock.Elapsed.TotalSeconds,6:0.0}s] {text}");
        try
        {
            using var broker = ModerationProcess.Start(["broker", "--partitions", s.Partitions.ToString()]);
            processes.Add(broker);
            var bootstrap = (await broker.WaitForLineAsync(l => l.StartsWith("bootstrap="), ct: ct))["bootstrap=".Length..];
            await using var redis = await RedisUnderTest.StartAsync(ct);
            Say($"broker {bootstrap}, redis {redis.Configuration} ({redis.Kind}), mode {s.Mode}");

            var urls = Enumerable.Range(0, 64).Select(i =>
            {
                var path = Path.Combine(media.FullName, $"img-{i}.png");
                File.WriteAllBytes(path, SampleImages.Png(9000 + i, 160, 120));
                return new Uri(path).AbsoluteUri;
            }).ToList();

            var env = new Dictionary<string, string?>
            {
                ["Kafka__SessionTimeoutMs"] = s.SessionTimeoutMs.ToString(),
                ["Kafka__HeartbeatIntervalMs"] = Math.Min(1000, s.SessionTimeoutMs / 3).ToString(),
                ["Kafka__Mode"] = s.Mode,
                ["Kafka__ShutdownTimeout"] = "00:00:20",
                ["Logging__LogLevel__Default"] = "Warning",
                ["Telemetry__Port"] = "0",
            };
            ModerationProcess StartWorker(int index)
            {
                // One stable identity per worker slot, as a pod name is: a restarted worker rejoins as the same static member.
                var workerEnv = new Dictionary<string, string?>(env)
                {
                    ["Kafka__TransactionalId"] = $"chaos-worker-{index}",
                    ["Kafka__GroupInstanceId"] = $"chaos-worker-{index}",
                };
                var w = ModerationProcess.Start(["worker", "--kafka", bootstrap, "--redis", redis.Configuration, "--media-root", media.FullName, "--group", "chaos"], workerEnv);
                processes.Add(w);
                return w;
            }
            var workers = Enumerable.Range(0, s.Workers).Select(StartWorker).ToArray();

            // Uploads arrive at --rate while the workers are being killed; a broken event every 1/broken-percent uploads.
            var expectedDlq = new HashSet<string>();
            int brokenEvery = s.BrokenPercent > 0 ? (int)Math.Max(1, Math.Round(100 / s.BrokenPercent)) : int.MaxValue;
            for (int i = brokenEvery - 1; i < s.Uploads; i += brokenEvery) expectedDlq.Add($"chaos-{i:D6}");
            int published = 0;
            var publishingStarted = clock.Elapsed;
            var publishing = Task.Run(() =>
            {
                using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrap, EnableIdempotence = true, Acks = Acks.All, LingerMs = 5 }).Build();
                var pace = Stopwatch.StartNew();
                for (int i = 0; i < s.Uploads && !ct.IsCancellationRequested; i++)
                {
                    var id = $"chaos-{i:D6}";
                    var value = expectedDlq.Contains(id)
                        ? System.Text.Encoding.UTF8.GetBytes($"{{\"content_id\":\"{id}\",\"media_type\":")
                        : UploadEventParser.Serialize(new UploadEvent { ContentId = id, MediaType = MediaTypes.Image, Media = new MediaRef { Url = urls[i % urls.Count] } });
                    producer.Produce(Topics.Uploads, new Message<string, byte[]> { Key = id, Value = value });
                    Volatile.Write(ref published, i + 1);
                    if (s.Rate > 0 && i % 50 == 49)
                    {
                        var due = TimeSpan.FromSeconds((i + 1) / (double)s.Rate) - pace.Elapsed;
                        if (due > TimeSpan.Zero) Thread.Sleep(due);
                    }
                }
                if (producer.Flush(TimeSpan.FromSeconds(60)) != 0) throw new InvalidOperationException("uploads were not all acknowledged");
            }, ct);
            Say($"publishing {s.Uploads} uploads ({expectedDlq.Count} broken) at {(s.Rate > 0 ? $"{s.Rate}/s" : "once")} to {s.Partitions} partitions; {s.Workers} workers");

            // Read every outcome as it arrives (read_committed, as downstream consumers of exactly-once must).
            var ledger = new DuplicateLedger(s.Partitions);
            var wrongTopic = new List<string>();
            long records = 0;
            using var reader = new ConsumerBuilder<string?, byte[]>(new ConsumerConfig
            {
                BootstrapServers = bootstrap,
                GroupId = "chaos-verifier",
                EnableAutoCommit = false,
                IsolationLevel = IsolationLevel.ReadCommitted,
            }).Build();
            reader.AssignOutcomes(s.Partitions);
            // Reads the workers' committed offsets at each kill (an offset fetch; it never joins the group).
            using var commits = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "chaos", EnableAutoCommit = false }).Build();
            var uploadPartitions = Enumerable.Range(0, s.Partitions).Select(p => new TopicPartition(Topics.Uploads, p)).ToList();
            void Read(ConsumeResult<string?, byte[]> r)
            {
                if (r.Message.Key is not { } key) return;
                records++;
                var (partition, offset) = SourceOf(r);
                ledger.Outcome(key, partition, offset);
                if ((r.Topic == Topics.Dlq) != expectedDlq.Contains(key)) wrongTopic.Add($"{key}@{r.Topic}");
            }

            var random = new Random(1);
            int kills = 0, redisRestarts = 0;
            var nextKill = clock.Elapsed + TimeSpan.FromSeconds(s.KillEvery);
            var lastReport = clock.Elapsed;
            var deadline = clock.Elapsed + s.Timeout;
            while (ledger.Decided < s.Uploads && clock.Elapsed < deadline && !ct.IsCancellationRequested)
            {
                if (reader.Consume(TimeSpan.FromMilliseconds(100)) is { Message: not null } r) Read(r);
                if (publishing.IsFaulted) await publishing; // surfaces the producer's failure
                // Chaos while uploads arrive and the work is at most three-quarters done, so the end is reached in calm water.
                bool chaosPhase = s.KillEvery > 0 && (Volatile.Read(ref published) < s.Uploads || ledger.Decided < s.Uploads * 3 / 4);
                if (chaosPhase && clock.Elapsed >= nextKill)
                {
                    int victim = random.Next(workers.Length);
                    workers[victim].Kill();
                    await workers[victim].WaitForExitAsync(TimeSpan.FromSeconds(30), ct);
                    // Dead, it commits nothing more: what its partitions re-screen starts at these offsets.
                    var committed = commits.Committed(uploadPartitions, TimeSpan.FromSeconds(10)).Select(c => c.Offset.Value).ToList();
                    ledger.Killed(clock.Elapsed, victim, committed);
                    workers[victim] = StartWorker(victim);
                    kills++;
                    Say($"SIGKILL worker {victim} and restart it ({ledger.Decided} of {s.Uploads} decided)");
                    nextKill = clock.Elapsed + TimeSpan.FromSeconds(s.KillEvery);
                }
                if (chaosPhase && redisRestarts == 0 && ledger.Decided >= s.Uploads / 3 && redis.CanRestart)
                {
                    await redis.RestartAsync(ct);
                    redisRestarts++;
                    Say($"restarted Redis ({ledger.Decided} of {s.Uploads} decided)");
                }
                if (clock.Elapsed - lastReport > TimeSpan.FromSeconds(5))
                {
                    lastReport = clock.Elapsed;
                    Say($"{ledger.Decided} of {s.Uploads} decided, {ledger.Duplicates} duplicates so far");
                }
            }
            var allDecided = clock.Elapsed - publishingStarted;
            // Anything still arriving is counted as a duplicate, not a loss: read on briefly.
            var settle = clock.Elapsed + TimeSpan.FromSeconds(2);
            while (clock.Elapsed < settle)
                if (reader.Consume(TimeSpan.FromMilliseconds(100)) is { Message: not null } r) Read(r);

            await publishing;
            foreach (var w in workers) w.Terminate();
            var exits = new List<int>();
            foreach (var w in workers) exits.Add(await w.WaitForExitAsync(TimeSpan.FromSeconds(60), ct));

            long lost = s.Uploads - ledger.Decided;
            bool pass = lost == 0 && wrongTopic.Count == 0 && exits.All(e => e == 0);
            foreach (var k in ledger.Kills.Append(ledger.BeforeKills).Where(k => k.Total > 0 || k.Number > 0))
                Console.WriteLine(k.Number == 0
                    ? $"duplicates before any kill: {k.Total} (rebalance)"
                    : $"kill {k.Number} at {k.At.TotalSeconds:0.0}s (worker {k.Worker}): {k.Total} duplicates: uncommitted={k.Uncommitted} in_flight={k.InFlight} rebalance={k.Rebalance}");
            Console.WriteLine($"{name}: mode={s.Mode} uploads={s.Uploads} broken={expectedDlq.Count} outcomes={records} lost={lost} duplicates={ledger.Duplicates} " +
                $"wrong_topic={wrongTopic.Count} kills={kills} redis_restarts={redisRestarts} worker_exits={string.Join('/', exits)} " +
                $"duplicates_uncommitted={ledger.Count(DuplicateCause.Uncommitted)} duplicates_in_flight={ledger.Count(DuplicateCause.InFlight)} " +
                $"duplicates_rebalance={ledger.Count(DuplicateCause.Rebalance)} duplicates_per_kill={(kills > 0 ? ledger.Duplicates / (double)kills : 0):0.0} " +
                $"largest_burst={ledger.LargestBurst} duplicate_percent={100.0 * ledger.Duplicates / s.Uploads:0.0} " +
                $"all_decided_seconds={allDecided.TotalSeconds:0.0} seconds={clock.Elapsed.TotalSeconds:0.0} verdict={(pass ? "PASS" : "FAIL")}");
            if (s.Mode == DeliveryModes.ExactlyOnce)
                Console.WriteLine("note: the embedded broker stores no transactional offsets and does not hide aborted records, so exactly-once " +
                    "duplicates here are expected; only a real Kafka broker can show exactly-once (see README).");
            return new RunResult(pass, allDecided);
        }
        finally
        {
            foreach (var p in processes) p.Dispose();
            try { media.Delete(true); } catch (IOException) { }
        }
    }

    /// <summary>The upload an outcome answers: <c>source</c> of a decision, the source headers of a DLQ record.</summary>
    private static (int? Partition, long? Offset) SourceOf(ConsumeResult<string?, byte[]> r)
    {
        if (r.Topic == Topics.Dlq)
        {
            string? Header(string name) => r.Message.Headers.TryGetLastBytes(name, out var v) ? System.Text.Encoding.ASCII.GetString(v) : null;
            return (int.TryParse(Header(DlqHeaders.SourcePartition), out int p) ? p : null, long.TryParse(Header(DlqHeaders.SourceOffset), out long o) ? o : null);
        }
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(r.Message.Value);
            return json.RootElement.TryGetProperty("source", out var source)
                ? (source.GetProperty("partition").GetInt32(), source.GetProperty("offset").GetInt64())
                : (null, null);
        }
        catch (Exception e) when (e is System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return (null, null);
        }
    }
}
