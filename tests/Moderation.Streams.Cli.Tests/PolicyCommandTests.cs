namespace Moderation.Streams.Cli.Tests;

/// <summary><c>moderation policy check [FILE]</c>: the worker's loading rules, one line per problem, exit 0/1/2.</summary>
public sealed class PolicyCommandTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("policy-check-");

    public void Dispose() => _dir.Delete(true);

    private string Write(string name, string json)
    {
        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public async Task A_valid_policy_exits_0_and_says_what_it_decides()
    {
        var path = Write("ok.json", """
            {
              "version": "2026-12-06.1",
              "takedown": {"porn": 0.9, "hentai": 0.92},
              "review": {"porn": 0.6, "sexy": 0.8},
              "surfaces": {"story": {"review": {"sexy": 0.7}}},
              "banks": {"partner-x": "review"},
              "text": {"scam": "takedown", "*": "review"},
              "unscreenable": "dlq",
              "shadow": {"model": "nsfw-mobilenet-v2-mid"}
            }
            """);

        using var cli = await CliProcess.RunAsync(["policy", "check", path], ct: Ct);

        Assert.True(await cli.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, cli.Transcript());
        Assert.Equal(
        [
            "valid: version 2026-12-06.1",
            "takedown: hentai >= 0.92, porn >= 0.9",
            "review: porn >= 0.6, sexy >= 0.8",
            "surface story: takedown none; review sexy >= 0.7 (other classes: the base thresholds)",
            "banks: partner-x -> review, any other -> takedown (default)",
            "text: scam -> takedown, any other -> review",
            "unscreenable: dlq",
            "ensemble: none (the worker's Screening:Model decides)",
            "shadow: nsfw-mobilenet-v2-mid (the live thresholds)",
        ], cli.StdoutLines);
        Assert.Empty(cli.StderrLines);
    }

    [Fact]
    public async Task Every_broken_rule_is_one_line_with_its_line_number_and_the_exit_code_is_1()
    {
        var path = Write("bad.json", "{\n  \"version\": \"v2\",\n  \"takedown\": {\"porn\": 0.5},\n  \"review\": {\"porn\": 0.7, \"nudity\": 0.5},\n  \"shadow\": {\"model\": \"no-such-model\", \"takedown\": {\"porn\": 0.95}}\n}\n");

        using var cli = await CliProcess.RunAsync(["policy", "check", path], ct: Ct);

        Assert.True(await cli.WaitForExitAsync(ct: Ct) == ExitCodes.Failure, cli.Transcript());
        var lines = cli.StdoutLines;
        Assert.Equal(3, lines.Count);
        Assert.All(lines, l => Assert.StartsWith(path + ": line ", l, StringComparison.Ordinal));
        Assert.Contains($"{path}: line 4: review.nudity: unknown class (known: drawing, hentai, neutral, porn, sexy)", lines);
        Assert.Contains(lines, l => l.StartsWith($"{path}: line 4: review.porn: review.porn (0.7) is above takedown.porn (0.5)", StringComparison.Ordinal));
        // The worker's model registry: a shadow it could not load is refused, as the worker refuses it.
        Assert.Contains(lines, l => l.StartsWith($"{path}: line 5: shadow.model: unknown model 'no-such-model'", StringComparison.Ordinal));
        Assert.Equal($"moderation policy check: {path}: invalid: 3 problems; a worker refuses it (at start) or keeps its running policy (on reload)", Assert.Single(cli.StderrLines));
    }

    [Fact]
    public async Task A_bank_tried_on_a_share_of_uploads_is_described_and_a_share_out_of_0_to_1_is_one_line()
    {
        var path = Write("trial.json", """
            {"version": "trial-1", "banks": {"new-list": {"action": "takedown", "enabled": 0.125}, "watch": {"action": "review", "enabled": 0},
              "partner-x": {"action": "review", "max_distance": 20, "enabled": 1}}}
            """);

        using var cli = await CliProcess.RunAsync(["policy", "check", path], ct: Ct);

        Assert.True(await cli.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, cli.Transcript());
        Assert.Contains("banks: new-list -> takedown (on 12.5% of uploads, the rest recorded on the shadow topic), "
            + "partner-x -> review (within 20 bits), watch -> review (observe only: matches recorded on the shadow topic), any other -> takedown (default)",
            cli.StdoutLines);

        var bad = Write("bad-trial.json", "{\"version\": \"v\",\n\"banks\": {\"new-list\": {\"action\": \"takedown\", \"enabled\": 10}}}\n");
        using var refused = await CliProcess.RunAsync(["policy", "check", bad], ct: Ct);
        Assert.True(await refused.WaitForExitAsync(ct: Ct) == ExitCodes.Failure, refused.Transcript());
        Assert.Equal($"{bad}: line 2: banks.new-list.enabled: enabled 10 must be a share in 0..1", Assert.Single(refused.StdoutLines));
    }

    [Fact]
    public async Task Malformed_json_is_one_line_naming_the_line()
    {
        var path = Write("broken.json", "{\n  \"version\": \"v3\",\n  \"takedown\": {\"porn\": \"high\"}\n}\n");

        using var cli = await CliProcess.RunAsync(["policy", "check", path], ct: Ct);

        Assert.True(await cli.WaitForExitAsync(ct: Ct) == ExitCodes.Failure, cli.Transcript());
        Assert.StartsWith($"{path}: invalid policy JSON at line 3: ", Assert.Single(cli.StdoutLines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_file_it_checks_the_configured_policy_file_and_without_either_it_is_a_usage_error()
    {
        var path = Write("configured.json", "{\"version\": \"from-config\", \"takedown\": {\"porn\": 0.95}}");

        using var configured = await CliProcess.RunAsync(["policy", "check"], new Dictionary<string, string?> { ["Screening__PolicyFile"] = path }, ct: Ct);
        Assert.True(await configured.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, configured.Transcript());
        Assert.Equal("valid: version from-config", configured.StdoutLines[0]);

        using var neither = await CliProcess.RunAsync(["policy", "check"], new Dictionary<string, string?> { ["Screening__PolicyFile"] = null }, ct: Ct);
        Assert.Equal(ExitCodes.Usage, await neither.WaitForExitAsync(ct: Ct));
        Assert.StartsWith("moderation policy check: give FILE, or configure Screening:PolicyFile", Assert.Single(neither.StderrLines), StringComparison.Ordinal);

        using var missing = await CliProcess.RunAsync(["policy", "check", Path.Combine(_dir.FullName, "nope.json")], ct: Ct);
        Assert.Equal(ExitCodes.Usage, await missing.WaitForExitAsync(ct: Ct));
        Assert.Equal($"moderation policy check: no such policy file: {Path.Combine(_dir.FullName, "nope.json")}", Assert.Single(missing.StderrLines));

        using var fifo = await CliProcess.RunAsync(["policy", "check", "/dev/zero"], ct: Ct);
        Assert.Equal(ExitCodes.Failure, await fifo.WaitForExitAsync(ct: Ct));
        Assert.StartsWith("moderation policy check: /dev/zero: ", Assert.Single(fifo.StderrLines), StringComparison.Ordinal);
    }
}
