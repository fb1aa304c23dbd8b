using System.CommandLine;
using System.Diagnostics;
using Moderation.Streams.Hashing;
using Moderation.Streams.Hashing.Banks;

namespace Moderation.Streams.Cli.Commands.Bench;

/// <summary>
/// <c>bench bank</c>: a bank of random hashes with planted near-duplicates of the queries (distances 0..max,
/// spread over the words and at random), searched by the multi-index hashing index and by a brute-force linear
/// scan (AVX-512 where the CPU has VPOPCNTDQ, AVX2 and scalar POPCNT; the fastest is the baseline) in the same run. Every query's results must be
/// identical, or the run fails.
/// </summary>
internal static class BankBench
{
    public static Command Create()
    {
        var size = new Option<int>("--hashes", "--size")
        {
            Description = "Hashes in the bank", DefaultValueFactory = _ => 1_000_000,
            Validators = { r => { if (r.GetValueOrDefault<int>() is < 1 or > 100_000_000) r.AddError("--hashes (--size) must be 1 to 100,000,000"); } },
        };
        var indexOnly = new Option<bool>("--index-only") { Description = "Only the index against brute force: no store, no worker load, no changes" };
        var redis = CommonOptions.Redis();
        redis.Description = "Redis to import the bank into (StackExchange.Redis configuration); default: redis-server from PATH on a free port, else embedded Garnet";
        var changes = new Option<int>("--changes")
        {
            Description = "One-hash imports timed from import to matchable while every core looks hashes up", DefaultValueFactory = _ => 100,
            Validators = { r => { if (r.GetValueOrDefault<int>() is < 1 or > 100_000) r.AddError("--changes must be 1 to 100,000"); } },
        };
        var queries = new Option<int>("--queries")
        {
            Description = "Queries (half with planted near-duplicates)", DefaultValueFactory = _ => 2000,
            Validators = { r => { if (r.GetValueOrDefault<int>() is < 2 or > 10_000_000) r.AddError("--queries must be 2 to 10,000,000"); } },
        };
        var maxDistance = new Option<int>("--max-distance")
        {
            Description = $"Match radius (0 to {MultiIndexHashIndex.MaxSupportedDistance})", DefaultValueFactory = _ => 31,
            Validators = { r => { if (r.GetValueOrDefault<int>() is < 0 or > MultiIndexHashIndex.MaxSupportedDistance) r.AddError($"--max-distance must be 0 to {MultiIndexHashIndex.MaxSupportedDistance}"); } },
        };
        var load = new Option<string?>("--load")
        {
            Description = "Only time this process loading the bank of that name as it is in --redis (keys under moderation:), as a worker starting cold does: " +
                          "from its snapshot when it has one, else scanned; nothing generated, imported or changed",
        };
        var command = new Command("bank", "Bank near-duplicate search: multi-index hashing vs brute force on 1,000,000 hashes (results must be identical); "
            + "then the bank through Redis and the worker's matcher: load time (scanned, and from a snapshot), memory per hash, lookups/s per core, import-to-matchable under load")
        {
            size, queries, maxDistance, indexOnly, redis, changes, load,
        };
        command.SetAction(async (parse, ct) =>
        {
            if (parse.GetValue(load) is { } bankName)
            {
                if (parse.GetValue(redis) is not { Length: > 0 } configuration || !BankNames.IsValid(bankName))
                {
                    Console.Error.WriteLine("moderation bench bank: --load needs a valid bank name and --redis CONFIG");
                    return ExitCodes.Usage;
                }
                return await BankStoreBench.LoadOnlyAsync(configuration, bankName, Console.Out, ct);
            }
            return await RunAsync(parse.GetValue(size), parse.GetValue(queries), parse.GetValue(maxDistance),
                parse.GetValue(indexOnly) ? null : new StoreRun(parse.GetValue(redis), parse.GetValue(changes)), Console.Out, ct);
        });
        return command;
    }

    private sealed record StoreRun(string? Redis, int Changes);

    private static async Task<int> RunAsync(int size, int queryCount, int radius, StoreRun? storeRun, TextWriter output, CancellationToken ct)
    {
        var random = new Random(20261125);
        var bank = new PdqHash[size];
        for (int i = 0; i < size; i++) bank[i] = RandomHash(random);
        var queries = new PdqHash[queryCount];
        int planted = 0;
        for (int q = 0; q < queryCount; q++)
        {
            queries[q] = RandomHash(random);
            if (q % 2 == 1 || size == 0) continue;
            // One to three near copies, each at a random distance 0..radius, written over random bank slots.
            for (int k = random.Next(1, 4); k > 0; k--)
            {
                int d = random.Next(0, radius + 1);
                bank[random.Next(size)] = random.Next(2) == 0 ? FlipSpread(queries[q], d) : FlipRandom(queries[q], d, random);
                planted++;
            }
        }
        output.WriteLine($"bank: {size:N0} random hashes, {planted} planted near-duplicates of {queryCount / 2} of the {queryCount} queries, radius {radius}");

        var build = Stopwatch.StartNew();
        var index = MultiIndexHashIndex.Build(bank);
        build.Stop();
        var brute = new BruteForceSearch(bank);
        output.WriteLine(FormattableString.Invariant($"index: built in {build.Elapsed.TotalMilliseconds:0} ms, {index.MemoryBytes / (1024.0 * 1024):0.0} MiB, {(double)index.MemoryBytes / Math.Max(1, size):0.0} bytes per hash{HugePages()}"));

        var expected = new List<IndexHit>[queryCount];
        var hits = new List<IndexHit>();
        // Warm up each path once.
        index.Search(queries[0], radius, hits);
        brute.Search(queries[0], radius, hits);

        double simdRate = 0, avx512Rate = 0, scalarRate;
        int bruteQueries = Math.Min(queryCount, Math.Max(50, 200_000_000 / Math.Max(1, size)));
        if (BruteForceSearch.SimdSupported)
        {
            var simd = Stopwatch.StartNew();
            for (int q = 0; q < bruteQueries; q++) brute.Search(queries[q], radius, expected[q] = []);
            simdRate = bruteQueries / simd.Elapsed.TotalSeconds;
        }
        if (BruteForceSearch.Avx512Supported)
        {
            brute.Search(queries[0], radius, hits, BruteForceKernel.Avx512);
            var wide = Stopwatch.StartNew();
            for (int q = 0; q < bruteQueries; q++)
            {
                var list = new List<IndexHit>();
                brute.Search(queries[q], radius, list, BruteForceKernel.Avx512);
                if (expected[q] is { } e && !e.SequenceEqual(list)) throw new InvalidOperationException($"brute-force kernels disagree on query {q}");
                expected[q] = list;
            }
            avx512Rate = bruteQueries / wide.Elapsed.TotalSeconds;
        }
        var scalar = Stopwatch.StartNew();
        for (int q = 0; q < bruteQueries; q++)
        {
            var list = new List<IndexHit>();
            brute.Search(queries[q], radius, list, simd: false);
            if (expected[q] is { } e && !e.SequenceEqual(list)) throw new InvalidOperationException($"brute-force kernels disagree on query {q}");
            expected[q] = list;
        }
        scalarRate = bruteQueries / scalar.Elapsed.TotalSeconds;
        for (int q = bruteQueries; q < queryCount; q++) brute.Search(queries[q], radius, expected[q] = []);
        output.WriteLine(FormattableString.Invariant($"brute force: AVX-512 {(BruteForceSearch.Avx512Supported ? $"{avx512Rate:0.0} queries/s" : "not supported")}, AVX2 {simdRate:0.0} queries/s, scalar POPCNT {scalarRate:0.0} queries/s ({bruteQueries} queries each)"));

        int rounds = 3;
        var timer = Stopwatch.StartNew();
        long found = 0;
        for (int r = 0; r < rounds; r++)
        {
            for (int q = 0; q < queryCount; q++)
            {
                hits.Clear();
                index.Search(queries[q], radius, hits);
                found += hits.Count;
            }
        }
        double indexRate = rounds * queryCount / timer.Elapsed.TotalSeconds;
        int mismatches = 0, matched = 0;
        for (int q = 0; q < queryCount; q++)
        {
            hits.Clear();
            index.Search(queries[q], radius, hits);
            hits.Sort((a, b) => a.Position.CompareTo(b.Position));
            if (!hits.SequenceEqual(expected[q])) mismatches++;
            matched += expected[q].Count;
        }
        output.WriteLine(FormattableString.Invariant($"index: {indexRate:0} queries/s; {matched} matches in all; results identical to brute force: {(mismatches == 0 ? "yes" : $"NO ({mismatches} queries differ)")}"));
        if (mismatches > 0) return ExitCodes.Failure;

        var baseline = Math.Max(Math.Max(simdRate, avx512Rate), scalarRate);
        var report = new BenchReport();
        report.Ratio("bank_index_vs_brute_force", indexRate / baseline, 50);
        index = null;
        brute = null;
        if (storeRun is not null)
        {
            var ratios = await BankStoreBench.RunAsync(bank, queries, storeRun.Redis, storeRun.Changes, output, ct);
            report.Ratio("bank_whole_reload_vs_change_p99", ratios.WholeReloadVsChangeP99, 10);
            report.Ratio("bank_load_scan_vs_snapshot", ratios.ScanVsSnapshotLoad, 3);
        }
        return report.Print(output);
    }

    // The index asks for transparent huge pages; say how much of the process the kernel really backs with them.
    private static string HugePages()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/smaps_rollup"))
                if (line.StartsWith("AnonHugePages:", StringComparison.Ordinal))
                    return FormattableString.Invariant($"; huge pages in the process: {long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024} MiB");
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return "";
    }

    private static PdqHash RandomHash(Random random)
    {
        Span<byte> bytes = stackalloc byte[32];
        random.NextBytes(bytes);
        return PdqHash.FromBytes(bytes);
    }

    // d bits spread over the 16 words: every word 1 or 2 bits away, the case the pigeonhole bound is tight for.
    private static PdqHash FlipSpread(PdqHash hash, int d)
    {
        Span<ulong> w = stackalloc ulong[4];
        hash.CopyTo(w);
        for (int k = 0; k < d; k++)
        {
            int bit = (k % 16) * 16 + k / 16;
            w[bit >> 6] ^= 1UL << (bit & 63);
        }
        return PdqHash.FromWords(w);
    }

    private static PdqHash FlipRandom(PdqHash hash, int d, Random random)
    {
        Span<ulong> w = stackalloc ulong[4];
        hash.CopyTo(w);
        var seen = new HashSet<int>();
        while (seen.Count < d)
        {
            int bit = random.Next(256);
            if (seen.Add(bit)) w[bit >> 6] ^= 1UL << (bit & 63);
        }
        return PdqHash.FromWords(w);
    }
}
