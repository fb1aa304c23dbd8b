using System.Text.RegularExpressions;

namespace Moderation.Streams.Cli.Tests;

/// <summary>The chaos suite at a small scale: worker processes killed with SIGKILL and restarted, Redis restarted.</summary>
public sealed partial class ChaosTests
{
    [GeneratedRegex(@"^chaos: .*lost=(\d+) duplicates=(\d+) wrong_topic=(\d+) kills=(\d+) redis_restarts=(\d+) .*verdict=(PASS|FAIL)$")]
    private static partial Regex Verdict();

    [GeneratedRegex(@" duplicates_uncommitted=(\d+) duplicates_in_flight=(\d+) duplicates_rebalance=(\d+) ")]
    private static partial Regex Causes();

    [Fact]
    public async Task Killing_workers_and_restarting_redis_loses_no_upload()
    {
        using var chaos = await CliProcess.RunAsync(
            ["chaos", "--uploads", "600", "--workers", "3", "--kill-every", "3", "--rate", "100", "--partitions", "6", "--timeout", "240", "--no-baseline"],
            deadline: TimeSpan.FromSeconds(300), ct: TestContext.Current.CancellationToken);

        var line = chaos.StdoutLines.LastOrDefault(l => l.StartsWith("chaos:")) ?? "";
        var verdict = Verdict().Match(line);
        Assert.True(verdict.Success, chaos.Transcript());
        Assert.Equal("0", verdict.Groups[1].Value);             // lost
        Assert.Equal("0", verdict.Groups[3].Value);             // outcome on the wrong topic
        Assert.NotEqual("0", verdict.Groups[4].Value);          // the chaos really happened
        Assert.Equal("1", verdict.Groups[5].Value);
        Assert.Equal("PASS", verdict.Groups[6].Value);
        // Every duplicate is charged to a cause.
        var causes = Causes().Match(line);
        Assert.True(causes.Success, line);
        Assert.Equal(long.Parse(verdict.Groups[2].Value), Enumerable.Range(1, 3).Sum(i => long.Parse(causes.Groups[i].Value)));
        Assert.Equal(0, await chaos.WaitForExitAsync(ct: TestContext.Current.CancellationToken));
    }
}
