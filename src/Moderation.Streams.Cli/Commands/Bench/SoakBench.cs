using System.CommandLine;
using System.Diagnostics;
using Moderation.Streams.Inference;

namespace Moderation.Streams.Cli.Commands.Bench;

/// <summary>
/// <c>bench soak</c>: one worker process (embedded broker, a real Redis) kept at half its measured throughput for
/// <c>--minutes</c>; at each sample the worker's RSS (<c>/proc/PID/status</c>) and GC heap after the last collection
/// (the runtime meter in its <c>/metrics</c>) are printed, and after the warm-up samples whether each stayed within
/// ±10% of its post-warm-up mean. Also reports the worker's start-up: process start → <c>/readyz</c> 200.
/// </summary>
internal static class SoakBench
{
    public static Command Create()
    {
        var minutes = new Option<double>("--minutes") { Description = "Length of the soak (fractions allowed)", DefaultValueFactory = _ => 10 };
        var sampleSeconds = new Option<double>("--sample-seconds") { Description = "Seconds between samples", DefaultValueFactory = _ => 60 };
        var warmup = new Option<int>("--warmup-samples") { Description = "Samples left out of the flatness check", DefaultValueFactory = _ => 2 };
        var rate = new Option<double>("--rate") { Description = "Uploads/s during the soak; 0 = half the throughput measured on the pictures first", DefaultValueFactory = _ => 0 };
        var pictures = new Option<int>("--pictures") { Description = "Distinct photo-like JPEGs cycled (half 1280x720, half 1080x1920)", DefaultValueFactory = _ => 100 };
        var redis = new Option<string?>("--redis") { Description = "HOST:PORT of a Redis to use (default: start redis-server from PATH; the bench refuses without one)" };
        var model = new Option<string>("--model") { Description = "The worker's model", DefaultValueFactory = _ => ModelRegistry.DefaultModelName };
        var command = new Command("soak", "One worker at half load for --minutes: RSS and GC heap sampled, flat within ±10% after warm-up; start-up to /readyz 200.")
        {
            minutes, sampleSeconds, warmup, rate, pictures, redis, model,
        };
        command.SetAction(async (parse, ct) =>
        {
            var s = new Settings(parse.GetValue(minutes), parse.GetValue(sampleSeconds), parse.GetValue(warmup), parse.GetValue(rate), parse.GetValue(pictures),
                parse.GetValue(redis), parse.GetValue(model)!);
            if (s.Minutes <= 0 || s.Minutes > 24 * 60 || s.SampleSeconds < 1 || s.WarmupSamples < 0 || s.Rate < 0 || s.Pictures is < 2 or > 10_000)
            {
                Console.Error.WriteLine("moderation bench soak: --minutes positive (at most 1440), --sample-seconds at least 1, --warmup-samples and --rate 0 or more, --pictures 2-10000");
                return ExitCodes.Usage;
            }
            return await PipelineUnderTest.RunGuardedAsync("soak", s.Model, s.Redis, () => RunAsync(s, ct));
        });
        return command;
    }

    private sealed record Settings(double Minutes, double SampleSeconds, int WarmupSamples, double Rate, int Pictures, string? Redis, string Model);

    private sealed record Sample(double Minute, long Decided, double RssMiB, double HeapMiB, double P50, double P99, int Cached);

    private static async Task<int> RunAsync(Settings s, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        void Say(string text) => Console.WriteLine($"[{clock.Elapsed.TotalSeconds,7:0.0}s] {text}");
        Say($"cores {Environment.ProcessorCount}, load average {E2eBench.LoadAverage()}");
        var jpegs = new byte[s.Pictures][];
        Parallel.For(0, s.Pictures, i => jpegs[i] = i % 2 == 0 ? PipelineUnderTest.PhotoJpeg(900_000 + i, 1280, 720) : PipelineUnderTest.PhotoJpeg(900_000 + i, 1080, 1920));

        await using var system = await PipelineUnderTest.StartAsync(12, s.Redis, ct);
        var urls = jpegs.Select((p, i) => system.AddMedia($"s{i:D6}.jpg", p)).ToArray();
        // Decisions expire after a second, so the cycled pictures are screened again rather than served from the cache.
        var settings = new Dictionary<string, string> { ["Screening:Model"] = s.Model, ["Redis:DecisionTtl"] = "00:00:01" };
        var ready = await system.StartWorkerAsync(settings, TimeSpan.FromSeconds(120), ct);
        Say($"start-up: process start -> /readyz 200 in {ready.TotalSeconds:0.00} s (goal <= 2 s; load average {E2eBench.LoadAverage()})");
        var pid = system.Workers[0].Id;

        var timeout = TimeSpan.FromMinutes(10);
        double rate = s.Rate;
        if (rate <= 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(1.1), ct); // let the probe's pictures fall out of the cache (TTL 1 s) — not a correctness wait
            var probe = await system.RunPhaseAsync("probe", urls, 0, timeout, ct);
            rate = probe.PerSecond / 2;
            Say($"throughput on the pictures: {probe.PerSecond:0.0} uploads/s; soak at {rate:0.0} uploads/s");
        }

        var samples = new List<Sample>();
        int next = 0, interval = 0;
        var soakEnd = TimeSpan.FromMinutes(s.Minutes);
        var soakClock = Stopwatch.StartNew();
        while (soakClock.Elapsed < soakEnd)
        {
            double seconds = Math.Min(s.SampleSeconds, Math.Max(1, (soakEnd - soakClock.Elapsed).TotalSeconds));
            int count = Math.Max(1, (int)Math.Round(rate * seconds));
            var batch = Enumerable.Range(0, count).Select(i => urls[(next + i) % urls.Length]).ToArray();
            next += count;
            var phase = await system.RunPhaseAsync($"soak{interval++}", batch, rate, timeout, ct);
            var metrics = await system.ScrapeAsync(ct);
            double heap = metrics.Where(m => m.Name.StartsWith("dotnet_gc_last_collection_heap_size", StringComparison.Ordinal)).Sum(m => m.Value);
            var sample = new Sample(soakClock.Elapsed.TotalMinutes, next, RssBytes(pid) / 1048576.0, heap / 1048576.0, phase.Percentile(0.5), phase.Percentile(0.99), phase.Cached);
            samples.Add(sample);
            Say($"sample {samples.Count}: minute {sample.Minute:0.00}  decided {sample.Decided}  rss {sample.RssMiB:0.0} MiB  gc heap {sample.HeapMiB:0.0} MiB  " +
                $"p50 {sample.P50:0} ms  p99 {sample.P99:0} ms  cached {sample.Cached}/{phase.Uploads}  load {E2eBench.LoadAverage()}");
        }
        var exits = await system.StopWorkersAsync(ct);

        var steady = samples.Skip(s.WarmupSamples).ToList();
        string Flatness(Func<Sample, double> value, string name)
        {
            if (steady.Count < 2) return $"{name}: too few samples after {s.WarmupSamples} warm-up samples to judge";
            double mean = steady.Average(value);
            double spread = steady.Max(x => Math.Abs(value(x) - mean)) / mean * 100;
            return $"{name}: mean {mean:0.0} MiB, largest deviation {spread:0.0}% over {steady.Count} samples after warm-up (goal within 10%): {(spread <= 10 ? "FLAT" : "NOT FLAT")}";
        }
        Console.WriteLine($"soak: {Flatness(x => x.RssMiB, "rss")}");
        Console.WriteLine($"soak: {Flatness(x => x.HeapMiB, "gc_heap")} (after whichever collection came last: a sawtooth between full collections)");
        Console.WriteLine($"soak: {HeapFloor(steady.Select(x => x.HeapMiB).ToList())}");
        Console.WriteLine($"soak: startup_to_ready_s={ready.TotalSeconds:0.00} rate={rate:0.0} samples={samples.Count} decided={next} worker_exit={string.Join('/', exits)}");
        return exits.All(e => e == 0) ? ExitCodes.Ok : ExitCodes.Failure;
    }

    /// <summary>
    /// The GC heap's floor: the smallest heap of each run of <see cref="FloorWindow"/> samples (the heap after a full
    /// collection, or close to it: what is still alive), and whether those floors stay within ±10% of their mean. A leak
    /// raises the floor; garbage that a gen0 or gen1 collection leaves for the next full one only raises single samples.
    /// </summary>
    internal static string HeapFloor(IReadOnlyList<double> heapMiB)
    {
        var floors = new List<double>();
        int windows = heapMiB.Count / FloorWindow;
        for (int w = 0; w < windows; w++)
        {
            int from = w * FloorWindow, to = w == windows - 1 ? heapMiB.Count : from + FloorWindow; // the last window takes the rest
            floors.Add(heapMiB.Skip(from).Take(to - from).Min());
        }
        if (floors.Count < 2) return $"gc_heap_floor: too few samples ({heapMiB.Count}) after warm-up for two windows of {FloorWindow}";
        double mean = floors.Average();
        double spread = floors.Max(f => Math.Abs(f - mean)) / mean * 100;
        return FormattableString.Invariant($"gc_heap_floor: smallest of each {FloorWindow} samples {string.Join(" ", floors.Select(f => f.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)))} MiB, ") +
            FormattableString.Invariant($"largest deviation {spread:0.0}% from their mean {mean:0.0} MiB (goal within 10%): {(spread <= 10 ? "FLAT" : "NOT FLAT")}");
    }

    internal const int FloorWindow = 5;

    /// <summary>Resident set size of a process (Linux <c>/proc/PID/status</c> VmRSS), bytes; 0 when unreadable.</summary>
    internal static double RssBytes(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return double.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        return 0;
    }
}
