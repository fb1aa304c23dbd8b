using System.Globalization;
using System.Text.RegularExpressions;
using Moderation.Streams.Redis.Tests.Servers;

namespace Moderation.Streams.Cli.Tests;

/// <summary><c>bench e2e</c>, <c>bench captions</c> and <c>bench soak</c> run as users run them, at their smallest sizes: what they print and
/// their exit codes (never how fast anything was).</summary>
public sealed partial class EndToEndBenchTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [GeneratedRegex(@"^RATIO (?<name>[a-z0-9_]+) (?<value>[0-9.]+) goal (?<goal>[0-9.]+)$")]
    private static partial Regex RatioLine();

    [GeneratedRegex(@"cache hits: [0-9.]+ uploads/s \((?<cached>\d+) of (?<uploads>\d+) cached")]
    private static partial Regex HitsLine();

    [GeneratedRegex(@"throughput: [0-9.]+ uploads/s \([0-9.]+ s; cached (?<cached>\d+), dlq (?<dlq>\d+)\)")]
    private static partial Regex ThroughputLine();

    [GeneratedRegex(@"sample \d+: minute [0-9.]+  decided \d+  rss (?<rss>[0-9.]+) MiB  gc heap (?<heap>[0-9.]+) MiB")]
    private static partial Regex SampleLine();

    private static Dictionary<string, double> Ratios(CliProcess bench) => bench.StdoutLines.Select(l => RatioLine().Match(l)).Where(m => m.Success)
        .ToDictionary(m => m.Groups["name"].Value, m => double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));

    [Fact]
    public async Task Bench_e2e_measures_the_pipeline_its_stages_cache_hits_and_a_copy_loop()
    {
        using var bench = await CliProcess.RunAsync(["bench", "e2e", "--uploads", "20", "--stage-seconds", "0.3", "--long-commit-interval", "2", "--hit-uploads", "40", "--warm-up", "8", "--warm-up-rounds", "2"],
            deadline: TimeSpan.FromSeconds(400), ct: Ct);

        Assert.True(bench.HasExited && bench.StdoutLines.Count > 0, bench.Transcript());
        Assert.Equal(0, await bench.WaitForExitAsync(ct: Ct));
        var ratios = Ratios(bench);
        Assert.Equal(["e2e_vs_stage_bound", "hash_hit_default_commit_vs_long_commit", "hash_hit_vs_copy_loop"], ratios.Keys.Order());
        Assert.All(ratios.Values, v => Assert.True(v > 0, bench.Transcript()));
        // Distinct pictures are screened by the model; the same pictures again (cycled) are all served by the decision cache.
        var throughput = ThroughputLine().Match(string.Join('\n', bench.StdoutLines));
        Assert.True(throughput.Success, bench.Transcript());
        Assert.Equal(("0", "0"), (throughput.Groups["cached"].Value, throughput.Groups["dlq"].Value));
        var hits = HitsLine().Match(string.Join('\n', bench.StdoutLines));
        Assert.True(hits.Success, bench.Transcript());
        Assert.Equal(("40", "40"), (hits.Groups["cached"].Value, hits.Groups["uploads"].Value));
        Assert.Contains(bench.StdoutLines, l => l.Contains("process start -> /readyz 200 in", StringComparison.Ordinal));
        Assert.Contains(bench.StdoutLines, l => l.Contains("latency at half load", StringComparison.Ordinal) && l.Contains("p99", StringComparison.Ordinal));
    }

    [GeneratedRegex(@"^\[ *[0-9.]+s\] (?<set>terms\+domains(\+meaning)?), round (?<round>\d), (?<arm>with captions|without captions) *: [0-9.]+ uploads/s \([0-9.]+ s; text reasons (?<text>\d+) \(meaning \d+\), cached 0, dlq 0;")]
    private static partial Regex CaptionPhaseLine();

    [Fact]
    public async Task Bench_captions_measures_image_uploads_with_and_without_captions_for_both_bank_sets()
    {
        using var bench = await CliProcess.RunAsync(["bench", "captions", "--uploads", "8", "--rounds", "2", "--terms", "40", "--domains", "100", "--texts", "10"],
            deadline: TimeSpan.FromSeconds(400), ct: Ct);

        Assert.Equal(0, await bench.WaitForExitAsync(ct: Ct));
        var ratios = Ratios(bench);
        Assert.Equal(["e2e_with_captions_vs_without", "e2e_with_term_domain_captions_vs_without"], ratios.Keys.Order());
        Assert.All(ratios.Values, v => Assert.True(v > 0, bench.Transcript()));
        Assert.StartsWith("RATIO ", bench.StdoutLines[^1], StringComparison.Ordinal);
        // Two bank sets × two rounds × two arms, the rounds alternating which arm goes first; of every 8 captions 4 carry a
        // planted term or link (each must give a text reason), and uploads without a caption never get one.
        var phases = bench.StdoutLines.Select(l => CaptionPhaseLine().Match(l)).Where(m => m.Success).ToList();
        Assert.Equal(8, phases.Count);
        Assert.Equal(["without captions", "with captions", "with captions", "without captions"], phases.Take(4).Select(m => m.Groups["arm"].Value));
        Assert.All(phases, m => Assert.True(m.Groups["arm"].Value == "with captions"
            ? int.Parse(m.Groups["text"].Value, CultureInfo.InvariantCulture) >= 4
            : m.Groups["text"].Value == "0", bench.Transcript()));
        Assert.Equal(4, phases.Count(m => m.Groups["set"].Value == "terms+domains+meaning"));
        Assert.Contains(bench.StdoutLines, l => l.Contains("meaning bank of 10 texts imported and embedded by the worker in", StringComparison.Ordinal));
        Assert.Equal(2, bench.StdoutLines.Count(l => l.Contains("with/without per round ", StringComparison.Ordinal) && l.Contains(", median ", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Bench_soak_samples_rss_and_gc_heap_and_reports_start_up()
    {
        await using var redis = await RedisServerProcess.StartAsync(Ct);
        using var bench = await CliProcess.RunAsync(["bench", "soak", "--minutes", "0.1", "--sample-seconds", "2", "--warmup-samples", "1", "--pictures", "6",
            "--rate", "3", "--redis", redis.Configuration], deadline: TimeSpan.FromSeconds(300), ct: Ct);

        Assert.Equal(0, await bench.WaitForExitAsync(ct: Ct));
        var samples = bench.StdoutLines.Select(l => SampleLine().Match(l)).Where(m => m.Success).ToList();
        Assert.True(samples.Count >= 2, bench.Transcript());
        Assert.All(samples, m =>
        {
            Assert.True(double.Parse(m.Groups["rss"].Value, CultureInfo.InvariantCulture) > 10, bench.Transcript());
            Assert.True(double.Parse(m.Groups["heap"].Value, CultureInfo.InvariantCulture) > 0, bench.Transcript());
        });
        Assert.Contains(bench.StdoutLines, l => l.StartsWith("soak: rss: ", StringComparison.Ordinal) && (l.EndsWith(": FLAT", StringComparison.Ordinal) || l.EndsWith("NOT FLAT", StringComparison.Ordinal)));
        Assert.Contains(bench.StdoutLines, l => l.StartsWith("soak: gc_heap: ", StringComparison.Ordinal));
        Assert.Contains(bench.StdoutLines, l => l.StartsWith("soak: gc_heap_floor: ", StringComparison.Ordinal));
        Assert.Contains(bench.StdoutLines, l => l.StartsWith("soak: startup_to_ready_s=", StringComparison.Ordinal) && l.Contains("worker_exit=0", StringComparison.Ordinal));
    }

    [Fact]
    public void The_gc_heap_floor_ignores_the_sawtooth_between_full_collections_and_sees_a_rising_floor()
    {
        // 30 samples: a floor of 34 MiB (one full collection in every five samples) and garbage left for the next full
        // collection on the others (up to 2.5x).
        double[] sawtooth = [.. Enumerable.Range(0, 30).Select(i => i % 5 == 2 ? 34.0 : i % 3 == 0 ? 84.0 : 50.0 + i % 4)];
        var flat = Commands.Bench.SoakBench.HeapFloor(sawtooth);
        Assert.StartsWith("gc_heap_floor: smallest of each 5 samples 34.0 34.0 34.0 34.0 34.0 34.0 MiB, largest deviation 0.0%", flat);
        Assert.EndsWith(": FLAT", flat);

        // The same sawtooth on a floor that rises 1 MiB a sample: a leak.
        var leak = Commands.Bench.SoakBench.HeapFloor([.. sawtooth.Select((v, i) => v + i)]);
        Assert.EndsWith(": NOT FLAT", leak);

        // The last window takes the samples left over; fewer than two windows cannot be judged.
        Assert.Contains("smallest of each 5 samples 10.0 20.0 MiB", Commands.Bench.SoakBench.HeapFloor([10, 11, 12, 13, 14, 20, 21, 22, 23, 24, 25, 26]));
        Assert.StartsWith("gc_heap_floor: too few samples (9)", Commands.Bench.SoakBench.HeapFloor([.. Enumerable.Repeat(30.0, 9)]));
    }

    [Theory]
    [InlineData("e2e")]
    [InlineData("soak")]
    [InlineData("captions")]
    public async Task Without_redis_server_on_path_the_bench_refuses_in_one_line(string verb)
    {
        using var bench = await CliProcess.RunAsync(["bench", verb], new Dictionary<string, string?> { ["PATH"] = "/nonexistent" }, ct: Ct);

        Assert.Equal(1, await bench.WaitForExitAsync(ct: Ct));
        var error = Assert.Single(bench.StderrLines);
        Assert.Contains("redis-server is not on PATH", error);
        Assert.Contains("--redis HOST:PORT", error);
    }

    [Theory]
    [InlineData("e2e", "--uploads", "0")]
    [InlineData("e2e", "--set", "no-equals-sign")]
    [InlineData("e2e", "--workers", "0")]
    [InlineData("e2e", "--warm-up", "0")]
    [InlineData("e2e", "--warm-up-rounds", "0")]
    [InlineData("soak", "--minutes", "0")]
    [InlineData("soak", "--pictures", "1")]
    [InlineData("captions", "--rounds", "0")]
    [InlineData("captions", "--texts", "-1")]
    [InlineData("captions", "--set", "no-equals-sign")]
    public async Task Bad_options_are_usage_errors(string verb, string option, string value)
    {
        using var bench = await CliProcess.RunAsync(["bench", verb, option, value], ct: Ct);

        Assert.Equal(2, await bench.WaitForExitAsync(ct: Ct));
        Assert.Single(bench.StderrLines);
        Assert.Empty(bench.StdoutLines);
    }
}
