using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Worker.Logging;
using Moderation.Streams.Hashing;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;

namespace Moderation.Streams.Cli.Commands.Bench;

/// <summary>
/// The second half of <c>bench bank</c>: the same bank through the store and the worker's matcher. Imports it into
/// Redis (<c>redis-server</c> when installed, else embedded Garnet, or <c>--redis</c>), then times the worker's load
/// (<see cref="BankMatcher.StartAsync"/>: read, decode, index), its memory per hash, lookups per second on one core,
/// and the time from importing one hash to matching it while all cores but one look hashes up, against a whole re-read and
/// rebuild of the bank measured in the same run (what every change cost before changes were applied as deltas).
/// </summary>
internal static class BankStoreBench
{
    private const string Bank = "bench";

    /// <summary>A whole re-read and rebuild against a change's p99 import-to-matchable; a worker's load scanning the bank
    /// against its load from the bank's snapshot.</summary>
    public sealed record Ratios(double WholeReloadVsChangeP99, double ScanVsSnapshotLoad);

    public static async Task<Ratios> RunAsync(PdqHash[] bank, PdqHash[] queries, string? redisConfiguration, int changes, TextWriter output, CancellationToken ct)
    {
        await using var server = redisConfiguration is null ? await RedisUnderTest.StartAsync(ct) : null;
        string configuration = redisConfiguration ?? server!.Configuration;
        await using var redis = await RedisConnector.ConnectAsync(configuration);
        var prefix = $"bench-{Guid.NewGuid():N}:";
        var store = new RedisBankStore(redis, prefix);
        var at = DateTimeOffset.UtcNow;
        try
        {
            var import = Stopwatch.StartNew();
            const int chunk = 100_000;
            for (int start = 0; start < bank.Length; start += chunk)
            {
                var entries = new List<BankEntry>(Math.Min(chunk, bank.Length - start));
                for (int i = start; i < Math.Min(bank.Length, start + chunk); i++) entries.Add(new BankEntry(Bank, Id(i), bank[i], 100, null, "bench", at));
                await store.ImportAsync(Bank, entries).ConfigureAwait(false);
            }
            import.Stop();
            output.WriteLine(FormattableString.Invariant(
                $"store: {bank.Length:N0} hashes imported into {server?.Kind ?? "the given Redis"} in {import.Elapsed.TotalSeconds:0.0} s ({bank.Length / import.Elapsed.TotalSeconds:0} hashes/s)"));

            // Load: what a worker does at start (and what every change cost before deltas): a scan of the bank.
            Collect();
            double rssBefore = SoakBench.RssBytes(Environment.ProcessId);
            var options = new BankMatcherOptions { KeyPrefix = prefix, RefreshInterval = TimeSpan.FromSeconds(10), MaxStaleness = TimeSpan.FromHours(1), FullReloadInterval = TimeSpan.FromHours(1) };
            TimeSpan scanLoad;
            await using (var scanning = new BankMatcher(store, options with { Snapshots = false }))
            {
                var load = Stopwatch.StartNew();
                await scanning.StartAsync(TimeSpan.FromMinutes(10), ct).ConfigureAwait(false);
                scanLoad = load.Elapsed;
                if (scanning.Index.TotalEntries != bank.Length) throw new InvalidOperationException($"the worker loaded {scanning.Index.TotalEntries} of {bank.Length} hashes");
                Collect();
                long columns = scanning.Index.ColumnBytes;
                long native = scanning.Index.MemoryBytes;
                double rss = SoakBench.RssBytes(Environment.ProcessId) - rssBefore;
                output.WriteLine(FormattableString.Invariant(
                    $"worker load, scanning the bank: {scanLoad.TotalSeconds:0.00} s for {bank.Length:N0} hashes (read and decode {scanning.LastLoad?.Read.TotalSeconds:0.00} s, index {scanning.LastLoad?.Index.TotalSeconds:0.00} s); memory {(columns + native) / (double)bank.Length:0} bytes per hash held ({native / 1048576.0:0} MiB the index, {columns / 1048576.0:0} MiB the entries' columns), process RSS +{rss / 1048576.0:0} MiB = {rss / (double)bank.Length:0} bytes per hash"));
            }
            Collect();

            // The snapshot one worker writes after such a scan (here written directly), and a worker starting from it.
            var writing = Stopwatch.StartNew();
            var snapshot = await store.WriteSnapshotAsync(Bank, ct).ConfigureAwait(false) ?? throw new InvalidOperationException("the snapshot was not published");
            writing.Stop();
            output.WriteLine(FormattableString.Invariant(
                $"snapshot: {snapshot.Entries:N0} entries in {snapshot.Blocks} blocks, {snapshot.Bytes / 1048576.0:0} MiB in Redis ({snapshot.Bytes / (double)Math.Max(1, snapshot.Entries):0} bytes per hash), written in {writing.Elapsed.TotalSeconds:0.0} s"));
            await using var matcher = new BankMatcher(store, options);
            var fromSnapshot = Stopwatch.StartNew();
            await matcher.StartAsync(TimeSpan.FromMinutes(10), ct).ConfigureAwait(false);
            fromSnapshot.Stop();
            if (matcher.Index.TotalEntries != bank.Length || matcher.LastLoad?.FromSnapshot != true)
                throw new InvalidOperationException($"the worker loaded {matcher.Index.TotalEntries} of {bank.Length} hashes (from the snapshot: {matcher.LastLoad?.FromSnapshot})");
            output.WriteLine(FormattableString.Invariant(
                $"worker load, from the snapshot: {fromSnapshot.Elapsed.TotalSeconds:0.00} s for {bank.Length:N0} hashes (read and decode {matcher.LastLoad.Read.TotalSeconds:0.00} s, index {matcher.LastLoad.Index.TotalSeconds:0.00} s)"));

            // Lookups on one core, as the worker makes them (one hash; eight with the dihedral transforms).
            var dihedral = queries.Select((q, i) => new PdqDihedral(q, queries[(i + 1) % queries.Length], queries[(i + 2) % queries.Length],
                queries[(i + 3) % queries.Length], queries[(i + 4) % queries.Length], queries[(i + 5) % queries.Length],
                queries[(i + 6) % queries.Length], queries[(i + 7) % queries.Length], 100)).ToArray();
            double single = Rate(queries.Length, i => matcher.Match(queries[i], 100));
            double eight = Rate(queries.Length, i => matcher.Match(queries[i], 100, dihedral[i]));
            output.WriteLine(FormattableString.Invariant(
                $"lookups per core: {single:0} /s (one hash), {eight:0} /s (the 8 dihedral hashes, the worker's default) (HMA's target: 4,000 /s)"));

            // The old way every change was applied: the bank read whole and the index rebuilt.
            var whole = Stopwatch.StartNew();
            var copy = await store.ReadAsync(Bank, ct).ConfigureAwait(false);
            var rebuilt = new BankIndex(copy.Entries, matcher.Options.Match);
            whole.Stop();
            if (rebuilt.TotalEntries != bank.Length) throw new InvalidOperationException("the whole re-read lost entries");
            copy = null;
            rebuilt = null;

            var delays = await ChangeDelaysAsync(store, matcher, changes, output, ct).ConfigureAwait(false);
            double p50 = BenchReport.Percentile(delays, 0.5), p99 = BenchReport.Percentile(delays, 0.99);
            output.WriteLine(FormattableString.Invariant(
                $"import to matchable, {delays.Count} one-hash imports while {LoadThreads} threads look hashes up: p50 {p50:0} ms, p99 {p99:0} ms, max {delays.Max():0} ms; a whole re-read and rebuild (before deltas): {whole.Elapsed.TotalMilliseconds:0} ms"));
            return new Ratios(whole.Elapsed.TotalMilliseconds / Math.Max(1, p99), scanLoad / fromSnapshot.Elapsed);
        }
        finally
        {
            await store.DeleteBankAsync(Bank).ConfigureAwait(false);
        }
    }

    /// <summary><c>bench bank --load NAME --redis CONFIG</c>: this (fresh) process loads one existing bank as a worker
    /// starting cold does, and says how long it took and from what.</summary>
    public static async Task<int> LoadOnlyAsync(string configuration, string bank, TextWriter output, CancellationToken ct)
    {
        await using var redis = await RedisConnector.ConnectAsync(configuration);
        var store = new RedisBankStore(redis);
        if (!await store.ExistsAsync(bank).ConfigureAwait(false))
        {
            Console.Error.WriteLine($"moderation bench bank: no bank {bank} in the given Redis");
            return ExitCodes.Failure;
        }
        var snapshot = await store.GetSnapshotInfoAsync(bank).ConfigureAwait(false);
        output.WriteLine(snapshot is null
            ? $"bank {bank}: {await store.CountAsync(bank).ConfigureAwait(false):N0} entries, no snapshot (scanned)"
            : FormattableString.Invariant($"bank {bank}: snapshot of {snapshot.Entries:N0} entries as of version {snapshot.Version}, {snapshot.Changed:N0} ids changed since, {snapshot.Bytes / 1048576.0:0} MiB"));
        double rssBefore = SoakBench.RssBytes(Environment.ProcessId);
        // Only this bank is loaded (the others of the store too, as a worker would: the time is the whole start).
        // Reads a snapshot where there is one, never writes one (SnapshotMinEntries out of reach); the matcher's log on stderr.
        using var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Information).AddSafeConsole(o => o.TimestampFormat = "HH:mm:ss.fff "));
        await using var matcher = new BankMatcher(store, new BankMatcherOptions
        {
            RefreshInterval = TimeSpan.FromHours(1), MaxStaleness = TimeSpan.FromHours(2), FullReloadInterval = TimeSpan.FromHours(1), SnapshotMinEntries = int.MaxValue,
        }, loggers.CreateLogger<BankMatcher>());
        var clock = Stopwatch.StartNew();
        await matcher.StartAsync(TimeSpan.FromMinutes(30), ct).ConfigureAwait(false);
        clock.Stop();
        if (!matcher.IsAvailable)
        {
            Console.Error.WriteLine("moderation bench bank: the banks did not load");
            return ExitCodes.Failure;
        }
        var last = matcher.LastLoad;
        // What this machine charges for fresh memory, measured after the load (so the load did not benefit): a block the
        // size of the index's, faulted in on every core. On a VM whose host backs guest memory lazily it is most of the index step.
        long indexBytes = matcher.Index.MemoryBytes;
        var faulting = Stopwatch.StartNew();
        FaultInFreshMemory(indexBytes);
        faulting.Stop();
        output.WriteLine(FormattableString.Invariant(
            $"this machine faults in {indexBytes / 1073741824.0:0.00} GiB of fresh memory (the index's size) in {faulting.Elapsed.TotalSeconds:0.00} s, measured after the load"));
        output.WriteLine(FormattableString.Invariant(
            $"worker load: {clock.Elapsed.TotalSeconds:0.00} s for {matcher.Index.TotalEntries:N0} entries in {matcher.Versions.Count} banks; {last?.Bank} {(last?.FromSnapshot == true ? "from its snapshot" : "scanned")}: read and decode {last?.Read.TotalSeconds:0.00} s, index {last?.Index.TotalSeconds:0.00} s; process RSS +{(SoakBench.RssBytes(Environment.ProcessId) - rssBefore) / 1048576.0:0} MiB"));
        return ExitCodes.Ok;
    }

    private static unsafe void FaultInFreshMemory(long bytes)
    {
        if (bytes <= 0) return;
        byte* block = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)bytes);
        try
        {
            int threads = Math.Max(1, Environment.ProcessorCount);
            long stripe = (bytes / threads + 4095) / 4096 * 4096;
            var address = (nint)block;
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                byte* from = (byte*)address + Math.Min(bytes, t * stripe), to = (byte*)address + Math.Min(bytes, (t + 1) * stripe);
                for (byte* page = from; page < to; page += 4096) *page = 1;
            });
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.Free(block);
        }
    }

    private static async Task<List<double>> ChangeDelaysAsync(RedisBankStore store, BankMatcher matcher, int changes, TextWriter output, CancellationToken ct)
    {
        using var stop = new CancellationTokenSource();
        long lookups = 0;
        var random = new Random(20261207);
        // Threads of their own (as inference runs on ONNX Runtime's): lookups hogging thread-pool threads would starve
        // the pool that the store client and the sync loop run on, and measure the pool's thread injection instead.
        var load = Enumerable.Range(0, LoadThreads).Select(t =>
        {
            var thread = new Thread(() =>
            {
                var own = new Random(t);
                Span<byte> bytes = stackalloc byte[32];
                long n = 0;
                while (!stop.IsCancellationRequested)
                {
                    own.NextBytes(bytes);
                    matcher.Match(PdqHash.FromBytes(bytes), 100);
                    n++;
                }
                Interlocked.Add(ref lookups, n);
            }) { IsBackground = true, Name = $"bench-lookups-{t}" };
            thread.Start();
            return thread;
        }).ToList();
        var delays = new List<double>(changes);
        var clock = Stopwatch.StartNew();
        try
        {
            var bytes = new byte[32];
            for (int k = 0; k < changes; k++)
            {
                random.NextBytes(bytes);
                var hash = PdqHash.FromBytes(bytes);
                var started = Stopwatch.GetTimestamp();
                await store.ImportAsync(Bank, [new BankEntry(Bank, $"change-{k}", hash, 100, null, "bench", DateTimeOffset.UtcNow)]).ConfigureAwait(false);
                while (matcher.Match(hash, 100).Match?.Id != $"change-{k}")
                {
                    if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromSeconds(60)) throw new TimeoutException($"change {k} not matchable after 60 s");
                    await Task.Delay(1, ct).ConfigureAwait(false);
                }
                delays.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                await Task.Delay(random.Next(20, 120), ct).ConfigureAwait(false);
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            foreach (var thread in load) thread.Join();
        }
        output.WriteLine(FormattableString.Invariant(
            $"load during the changes: {lookups / clock.Elapsed.TotalSeconds:0} lookups/s on {LoadThreads} threads; the index now: {matcher.Index.BaseCount:N0} in the base, {matcher.Index.OverlayCount:N0} added since, {matcher.Index.RemovedFromBase:N0} removed"));
        return delays;
    }

    // Every core but one looks hashes up without pause (the rest of the process, the store client and the sync loop
    // among it, shares the last); on a 2-core machine that is one thread.
    private static int LoadThreads => Math.Max(1, Environment.ProcessorCount - 1);

    private static string Id(int i) => "b" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static double Rate(int count, Action<int> lookup)
    {
        for (int i = 0; i < Math.Min(count, 100); i++) lookup(i);
        var timer = Stopwatch.StartNew();
        int done = 0;
        for (int round = 0; timer.Elapsed < TimeSpan.FromSeconds(1) || round == 0; round++)
            for (int i = 0; i < count; i++, done++) lookup(i);
        return done / timer.Elapsed.TotalSeconds;
    }

    // Garbage collected and finalized (an index's native block is freed by its finalizer), so RSS shows what is held.
    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
