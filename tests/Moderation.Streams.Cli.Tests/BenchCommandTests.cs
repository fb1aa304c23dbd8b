using System.Globalization;
using System.Text.RegularExpressions;

namespace Moderation.Streams.Cli.Tests;

/// <summary>
/// <c>bench bank|poison|shadow|video</c> as a user runs them, at the smallest sizes that still run the real code: the
/// lines each prints, the <c>RATIO name value goal goal</c> lines last (DESIGN.md), and exit codes. The ratios' values
/// are not asserted (a loaded machine measures what it measures); that they are positive finite numbers is.
/// </summary>
public sealed partial class BenchCommandTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [GeneratedRegex(@"^RATIO ([a-z0-9_]+) ([0-9]+(?:\.[0-9]+)?) goal ([0-9]+(?:\.[0-9]+)?)$")]
    private static partial Regex RatioLine();

    /// <summary>The trailing RATIO lines, in order, as name → value; every other line comes before them.</summary>
    private static List<(string Name, double Value, double Goal)> Ratios(CliProcess cli, int expected)
    {
        var lines = cli.StdoutLines;
        Assert.True(lines.Count > expected, cli.Transcript());
        var ratios = new List<(string, double, double)>();
        foreach (var line in lines.Skip(lines.Count - expected))
        {
            var match = RatioLine().Match(line);
            Assert.True(match.Success, $"not a RATIO line: {line}\n{cli.Transcript()}");
            double value = double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
            Assert.True(value > 0 && double.IsFinite(value), line);
            ratios.Add((match.Groups[1].Value, value, double.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture)));
        }
        Assert.DoesNotContain(lines.Take(lines.Count - expected), l => l.StartsWith("RATIO ", StringComparison.Ordinal));
        return ratios;
    }

    [Fact]
    public async Task Bench_bank_compares_the_index_with_brute_force_and_requires_identical_results()
    {
        using var cli = await CliProcess.RunAsync(["bench", "bank", "--hashes", "5000", "--queries", "40", "--max-distance", "31", "--changes", "5"], deadline: TimeSpan.FromMinutes(3), ct: Ct);
        Assert.True(await cli.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, cli.Transcript());

        var lines = cli.StdoutLines;
        var planted = Regex.Match(lines[0], @"^bank: 5,000 random hashes, ([0-9]+) planted near-duplicates of 20 of the 40 queries, radius 31$");
        Assert.True(planted.Success, lines[0]);
        Assert.InRange(int.Parse(planted.Groups[1].Value, CultureInfo.InvariantCulture), 20, 60); // one to three per query
        Assert.Contains(lines, l => l.StartsWith("index: built in ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("brute force: ", StringComparison.Ordinal) && l.EndsWith("(40 queries each)", StringComparison.Ordinal));
        var found = lines.Single(l => l.Contains("results identical to brute force", StringComparison.Ordinal));
        Assert.EndsWith("results identical to brute force: yes", found, StringComparison.Ordinal);
        // Every planted copy is within the radius: the searches found at least one match per planted query.
        var matched = Regex.Match(found, @"; ([0-9]+) matches in all;");
        Assert.True(matched.Success && int.Parse(matched.Groups[1].Value, CultureInfo.InvariantCulture) >= 20, found);
        // The same bank through the store and the worker's matcher.
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^store: 5,000 hashes imported into (redis-server|embedded Garnet, not restarted) in [0-9.]+ s \([0-9]+ hashes/s\)$"));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^worker load, scanning the bank: [0-9.]+ s for 5,000 hashes \(read and decode [0-9.]+ s, index [0-9.]+ s\); memory [0-9]+ bytes per hash held \("));
        // Then its snapshot, and a worker starting from it.
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^snapshot: 5,000 entries in 1 blocks, [0-9]+ MiB in Redis \([0-9]+ bytes per hash\), written in [0-9.]+ s$"));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^worker load, from the snapshot: [0-9.]+ s for 5,000 hashes \(read and decode [0-9.]+ s, index [0-9.]+ s\)$"));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^lookups per core: [0-9]+ /s \(one hash\), [0-9]+ /s \(the 8 dihedral hashes"));
        // Five one-hash imports, each applied as a change beside the loaded base (no rebuild).
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^load during the changes: [0-9]+ lookups/s on [0-9]+ threads; the index now: 5,000 in the base, 5 added since, 0 removed$"));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^import to matchable, 5 one-hash imports while [0-9]+ threads look hashes up: p50 [0-9]+ ms, p99 [0-9]+ ms, max [0-9]+ ms; a whole re-read and rebuild \(before deltas\): [0-9]+ ms$"));
        var ratios = Ratios(cli, 3);
        Assert.Equal([("bank_index_vs_brute_force", 50.0), ("bank_whole_reload_vs_change_p99", 10.0), ("bank_load_scan_vs_snapshot", 3.0)], ratios.Select(r => (r.Name, r.Goal)));
    }

    [Fact]
    public async Task Bench_digest_brings_changes_from_their_records_and_times_them_under_load()
    {
        using var cli = await CliProcess.RunAsync(["bench", "digest", "--entries", "3000", "--changes", "5"], deadline: TimeSpan.FromMinutes(3), ct: Ct);
        Assert.True(await cli.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, cli.Transcript());
        var lines = cli.StdoutLines;
        Assert.Matches(@"^load average at the start: \S+ \S+ \S+; [0-9]+ cores$", lines[0]);
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^store: 3,000 SHA-256 digests imported into (redis-server|embedded Garnet, not restarted) in [0-9.]+ s$"));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^first load: [0-9]+ ms for 3,000 digests$"));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^quiet: a one-digest change from its delta record [0-9.]+ ms \(p50 of 20; max [0-9.]+\), the bank read whole again and swapped [0-9]+ ms \(p50 of 3\); load average "));
        // Every change came from its record: the copy read the bank whole once, at its start.
        Assert.Contains(lines, l => l == "the copy after the changes: 3,025 digests, 5 changed since its tables were built; brought up to date 5 times from records, 1 read whole");
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^import to matchable, 5 one-digest imports while [0-9]+ threads hash and look up 256 KiB files \([0-9]+ files/s\): wall \(import call to first match\) p50 [0-9.]+ ms, p99 [0-9.]+ ms, max [0-9.]+ ms; moderation.bank.change.delay \(changed_at to swap\) p50 [0-9]+ ms, p99 [0-9]+ ms over 5; load average "));
        Assert.Equal([("digest_whole_reload_vs_delta_apply", 10.0), ("digest_change_p99_vs_goal_1s", 1.0)], Ratios(cli, 2).Select(r => (r.Name, r.Goal)));
    }

    [Fact]
    public async Task Bench_bank_index_only_skips_the_store()
    {
        using var cli = await CliProcess.RunAsync(["bench", "bank", "--size", "2000", "--queries", "10", "--index-only"], deadline: TimeSpan.FromMinutes(3), ct: Ct);
        Assert.True(await cli.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, cli.Transcript());
        Assert.DoesNotContain(cli.StdoutLines, l => l.StartsWith("store: ", StringComparison.Ordinal));
        Assert.Equal("bank_index_vs_brute_force", Assert.Single(Ratios(cli, 1)).Name);
    }

    [Theory]
    [InlineData("bank", "--size", "0")]
    [InlineData("bank", "--max-distance", "300")]
    [InlineData("bank", "--changes", "0")]
    [InlineData("digest", "--entries", "0")]
    [InlineData("digest", "--changes", "0")]
    [InlineData("poison", "--uploads", "0")]
    [InlineData("poison", "--poison-percent", "150")]
    [InlineData("shadow", "--images", "0")]
    [InlineData("shadow", "--rounds", "0")]
    [InlineData("video", "--size", "8x8")]
    [InlineData("video", "--videos", "0")]
    public async Task Bad_bench_sizes_are_usage_errors_with_one_line(string bench, string option, string value)
    {
        using var cli = await CliProcess.RunAsync(["bench", bench, option, value], ct: Ct);
        Assert.True(await cli.WaitForExitAsync(ct: Ct) == ExitCodes.Usage, cli.Transcript());
        Assert.Empty(cli.StdoutLines);
        Assert.Contains(cli.StderrLines, l => l.Contains(option, StringComparison.Ordinal));
        Assert.DoesNotContain(cli.StderrLines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal)); // no stack trace
    }

    [Fact]
    public async Task Bench_shadow_refuses_an_unknown_model_in_one_line()
    {
        using var cli = await CliProcess.RunAsync(["bench", "shadow", "--shadow", "no-such-model", "--device", "cpu"], ct: Ct);
        Assert.True(await cli.WaitForExitAsync(ct: Ct) == ExitCodes.Usage, cli.Transcript());
        Assert.StartsWith("moderation bench shadow: ", Assert.Single(cli.StderrLines), StringComparison.Ordinal);
        Assert.Contains("no-such-model", cli.StderrLines[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_shadow_runs_the_live_model_with_and_without_its_shadow()
    {
        using var cli = await CliProcess.RunAsync(["bench", "shadow", "--device", "cpu", "--images", "16", "--rounds", "1"], deadline: TimeSpan.FromMinutes(4), ct: Ct);
        Assert.True(await cli.WaitForExitAsync(TimeSpan.FromMinutes(4), Ct) == ExitCodes.Ok, cli.Transcript());

        var lines = cli.StdoutLines;
        Assert.Matches(@"^live nsfw-mobilenet-v2@[^ ]+, shadow nsfw-mobilenet-v2-mid@[^ ]+ on [^;]+; 16 images x 1 rounds$", lines[0]);
        Assert.Matches(@"^round 1: live alone [0-9.]+ img/s, live\+shadow [0-9.]+ img/s, candidate alone [0-9.]+ img/s$", lines[1]);
        var ratios = Ratios(cli, 2);
        Assert.Equal(["shadow_throughput_vs_live_only", "candidate_alone_vs_live_only"], ratios.Select(r => r.Name));
    }

    [Fact]
    public async Task Bench_poison_screens_a_clean_and_a_poisoned_run_end_to_end()
    {
        using var cli = await CliProcess.RunAsync(["bench", "poison", "--uploads", "20", "--poison-percent", "20"], deadline: TimeSpan.FromMinutes(6), ct: Ct);
        Assert.True(await cli.WaitForExitAsync(TimeSpan.FromMinutes(6), Ct) == ExitCodes.Ok, cli.Transcript());

        var lines = cli.StdoutLines;
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^clean:  20 uploads in [0-9.]+ s = [0-9.]+ uploads/s$"));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^poison: 20 uploads \(20% poison\) in [0-9.]+ s = [0-9.]+ uploads/s$"));
        var ratio = Assert.Single(Ratios(cli, 1));
        Assert.Equal(("poison_vs_clean_throughput", 0.95), (ratio.Name, ratio.Goal));
    }

    [Fact]
    public async Task Bench_video_screens_generated_videos_against_decoding_alone()
    {
        using var cli = await CliProcess.RunAsync(
            ["bench", "video", "--videos", "1", "--seconds", "1", "--size", "64x48", "--rounds", "1", "--concurrency", "1", "--device", "cpu"],
            deadline: TimeSpan.FromMinutes(4), ct: Ct);
        int code = await cli.WaitForExitAsync(TimeSpan.FromMinutes(4), Ct);
        Assert.True(code == ExitCodes.Ok, cli.Transcript());

        var lines = cli.StdoutLines;
        Assert.Matches(@"^1 videos of 1 s at 64x48 30 fps \(H\.264, [0-9.]+ MiB\) generated in [0-9.]+ s$", lines[0]);
        Assert.Matches(@"^model nsfw-mobilenet-v2@[^ ]+ on CPU, 1 videos in flight, [0-9]+ cores$", lines[1]);
        Assert.Contains("round  decode-only  frames/s  videos/s | screening  frames/s  videos/s | ratio", lines);
        var sampled = lines.Single(l => l.Contains(" frames sampled per round", StringComparison.Ordinal));
        Assert.Matches(@"^[1-9][0-9]* frames sampled per round", sampled); // the real decoder sampled frames
        var ratio = Assert.Single(Ratios(cli, 1));
        Assert.Equal(("video_screening_vs_decoding", 0.8), (ratio.Name, ratio.Goal));
    }
}
