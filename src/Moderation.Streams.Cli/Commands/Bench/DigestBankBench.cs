using System.CommandLine;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;
using Moderation.Streams.Redis.DigestBanks;

namespace Moderation.Streams.Cli.Commands.Bench;

/// <summary>
/// <c>bench digest</c>: an exact file-hash bank (SHA-256) of <c>--entries</c> in Redis (<c>redis-server</c> when
/// installed, else embedded Garnet, or <c>--redis</c>) and the worker's copy of it (<see cref="DigestBankMatcher"/>): a
/// change brought in from its delta record against the bank read whole again (what every change cost before delta records),
/// both on a quiet process; then the time from importing one digest to the worker's copy matching it, while every core but
/// one hashes 256 KiB files and looks them up without pause.
/// </summary>
internal static class DigestBankBench
{
    private const string Bank = "bench-digests";
    private const int FileBytes = 256 * 1024;

    public static Command Create()
    {
        var entries = new Option<int>("--entries")
        {
            Description = "Digests in the bank", DefaultValueFactory = _ => 200_000,
            Validators = { r => { if (r.GetValueOrDefault<int>() is < 1 or > 20_000_000) r.AddError("--entries must be 1 to 20,000,000"); } },
        };
        var changes = new Option<int>("--changes")
        {
            Description = "One-digest imports timed from import to matchable while every core but one hashes and looks files up", DefaultValueFactory = _ => 100,
            Validators = { r => { if (r.GetValueOrDefault<int>() is < 1 or > 100_000) r.AddError("--changes must be 1 to 100,000"); } },
        };
        var redis = CommonOptions.Redis();
        redis.Description = "Redis to import the bank into (StackExchange.Redis configuration); default: redis-server from PATH on a free port, else embedded Garnet";
        var command = new Command("digest", "Exact file-hash bank: a change applied from its delta record vs the bank read whole again, and import-to-matchable under load")
        {
            entries, changes, redis,
        };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(entries), parse.GetValue(changes), parse.GetValue(redis), Console.Out, ct));
        return command;
    }

    private static async Task<int> RunAsync(int size, int changes, string? redisConfiguration, TextWriter output, CancellationToken ct)
    {
        output.WriteLine($"load average at the start: {LoadAverage()}; {Environment.ProcessorCount} cores");
        await using var server = redisConfiguration is null ? await RedisUnderTest.StartAsync(ct) : null;
        await using var redis = await RedisConnector.ConnectAsync(redisConfiguration ?? server!.Configuration);
        var prefix = $"bench-{Guid.NewGuid():N}:";
        var store = new RedisDigestBankStore(redis, prefix);
        var options = new BankMatcherOptions { KeyPrefix = prefix, RefreshInterval = TimeSpan.FromSeconds(10), MaxStaleness = TimeSpan.FromHours(1), FullReloadInterval = TimeSpan.FromHours(1) };
        var report = new BenchReport();
        try
        {
            var import = Stopwatch.StartNew();
            const int chunk = 50_000;
            var at = DateTimeOffset.UtcNow;
            for (int start = 0; start < size; start += chunk)
                await store.ImportAsync(Bank, DigestKinds.Sha256,
                    [.. Enumerable.Range(start, Math.Min(chunk, size - start)).Select(i => Entry($"d{i}", File(i), at))]).ConfigureAwait(false);
            output.WriteLine(FormattableString.Invariant(
                $"store: {size:N0} SHA-256 digests imported into {server?.Kind ?? "the given Redis"} in {import.Elapsed.TotalSeconds:0.0} s"));

            // Quiet: one copy, synced by hand; a change brought in from its record against the bank read whole again.
            List<double> deltas = [], wholes = [];
            await using (var copy = new DigestBankMatcher(store, options))
            {
                var load = Stopwatch.StartNew();
                await copy.SyncAsync(ct).ConfigureAwait(false);
                output.WriteLine(FormattableString.Invariant($"first load: {load.Elapsed.TotalMilliseconds:0} ms for {copy.Current!.Count:N0} digests"));
                for (int k = 0; k < 20; k++)
                {
                    await store.ImportAsync(Bank, DigestKinds.Sha256, [Entry($"quiet-{k}", File(-1 - k), DateTimeOffset.UtcNow)]).ConfigureAwait(false);
                    var apply = Stopwatch.StartNew();
                    await copy.SyncAsync(ct).ConfigureAwait(false);
                    deltas.Add(apply.Elapsed.TotalMilliseconds);
                    if (copy.Current!.Match(File(-1 - k)).Count != 1) throw new InvalidOperationException($"change {k} not matched after its sync");
                }
                for (int k = 0; k < 3; k++)
                {
                    var reread = Stopwatch.StartNew();
                    await copy.ResyncAsync(ct).ConfigureAwait(false);
                    wholes.Add(reread.Elapsed.TotalMilliseconds);
                }
                if (copy.CatchUps != (4, 20)) throw new InvalidOperationException($"expected 4 whole reads and 20 changes from their records, not {copy.CatchUps}");
            }
            double delta = BenchReport.Percentile(deltas, 0.5), whole = BenchReport.Percentile(wholes, 0.5);
            output.WriteLine(FormattableString.Invariant(
                $"quiet: a one-digest change from its delta record {delta:0.0} ms (p50 of 20; max {deltas.Max():0.0}), the bank read whole again and swapped {whole:0} ms (p50 of 3); load average {LoadAverage()}"));
            report.Ratio("digest_whole_reload_vs_delta_apply", whole / Math.Max(0.001, delta), 10);

            var (wall, metric, lookups) = await ChangeDelaysAsync(store, options, changes, output, ct).ConfigureAwait(false);
            output.WriteLine(FormattableString.Invariant(
                $"import to matchable, {wall.Count} one-digest imports while {LoadThreads} threads hash and look up {FileBytes / 1024} KiB files ({lookups:0} files/s): wall (import call to first match) p50 {BenchReport.Percentile(wall, 0.5):0.0} ms, p99 {BenchReport.Percentile(wall, 0.99):0.0} ms, max {wall.Max():0.0} ms; moderation.bank.change.delay (changed_at to swap) p50 {1000 * BenchReport.Percentile(metric, 0.5):0} ms, p99 {1000 * BenchReport.Percentile(metric, 0.99):0} ms over {metric.Count}; load average {LoadAverage()}"));
            report.Ratio("digest_change_p99_vs_goal_1s", 1000 / Math.Max(0.001, BenchReport.Percentile(wall, 0.99)), 1);
        }
        finally
        {
            var db = redis.GetDatabase();
            await store.DeleteAsync(Bank).ConfigureAwait(false);
            await db.KeyDeleteAsync([store.VersionKey(Bank), store.ChangedAtKey(Bank), EpochKey(prefix)]).ConfigureAwait(false);
        }
        return report.Print(output);
    }

    private static async Task<(List<double> Wall, List<double> Metric, double LookupsPerSecond)> ChangeDelaysAsync(RedisDigestBankStore store, BankMatcherOptions options,
        int changes, TextWriter output, CancellationToken ct)
    {
        var metric = new List<double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == RedisTelemetry.MeterName && instrument.Name == RedisTelemetry.BankChangeDelayHistogram) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Key == RedisTelemetry.BankTag && (string?)tag.Value == Bank)
                    lock (metric) metric.Add(value);
        });
        listener.Start();

        await using var matcher = new DigestBankMatcher(store, options);
        await matcher.StartAsync(TimeSpan.FromMinutes(10), ct).ConfigureAwait(false);
        using var stop = new CancellationTokenSource();
        long lookups = 0;
        // Threads of their own (as inference runs on ONNX Runtime's), hashing a file and looking it up without pause.
        var load = Enumerable.Range(0, LoadThreads).Select(t =>
        {
            var thread = new Thread(() =>
            {
                var file = new byte[FileBytes];
                new Random(t).NextBytes(file);
                long n = 0;
                while (!stop.IsCancellationRequested)
                {
                    BitConverter.TryWriteBytes(file, n);
                    matcher.Current?.Match(file);
                    n++;
                }
                Interlocked.Add(ref lookups, n);
            }) { IsBackground = true, Name = $"bench-digest-lookups-{t}" };
            thread.Start();
            return thread;
        }).ToList();
        var wall = new List<double>(changes);
        var random = new Random(20261207);
        var clock = Stopwatch.StartNew();
        try
        {
            for (int k = 0; k < changes; k++)
            {
                var file = File(-1000 - k);
                var started = Stopwatch.GetTimestamp();
                await store.ImportAsync(Bank, DigestKinds.Sha256, [Entry($"change-{k}", file, DateTimeOffset.UtcNow)]).ConfigureAwait(false);
                while (matcher.Current is not { } current || current.Match(file).Count == 0)
                {
                    if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromSeconds(60)) throw new TimeoutException($"change {k} not matchable after 60 s");
                    await Task.Delay(1, ct).ConfigureAwait(false);
                }
                wall.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                await Task.Delay(random.Next(20, 120), ct).ConfigureAwait(false);
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            foreach (var thread in load) thread.Join();
        }
        double rate = lookups / clock.Elapsed.TotalSeconds;
        output.WriteLine($"the copy after the changes: {matcher.Current?.Count:N0} digests, {matcher.Current?.OverlayCount:N0} changed since its tables were built; brought up to date {matcher.CatchUps.FromChanges} times from records, {matcher.CatchUps.Whole} read whole");
        lock (metric) return (wall, [.. metric], rate);
    }

    // Every core but one hashes files without pause (the store client and the sync loop share the last).
    private static int LoadThreads => Math.Max(1, Environment.ProcessorCount - 1);

    private static byte[] File(int i) => Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"bench file {i}"));

    private static DigestEntry Entry(string id, byte[] file, DateTimeOffset at) =>
        new(Bank, DigestKinds.Sha256, id, Convert.ToHexStringLower(SHA256.HashData(file)), null, "bench", at);

    private static string EpochKey(string prefix) => prefix + "banks:epoch";

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', System.IO.File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }
}
