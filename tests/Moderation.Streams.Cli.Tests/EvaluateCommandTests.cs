using System.Text.Json;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media;

namespace Moderation.Streams.Cli.Tests;

/// <summary>
/// <c>moderation evaluate</c> as a process on a set of drawings and street photographs only (no porn, hentai or sexy
/// example), against a policy that also takes porn and hentai down: the written proposal keeps those thresholds, and
/// a proposal that would send more than --max-review-share of the set to review exits 1 and writes nothing.
/// </summary>
public sealed class EvaluateCommandTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("evaluate-");

    public void Dispose() => _dir.Delete(true);

    private string Labels()
    {
        var csv = new List<string> { "path,label" };
        for (int i = 0; i < 12; i++)
        {
            File.WriteAllBytes(Path.Combine(_dir.FullName, $"drawing-{i}.png"), SampleImages.Png(8100 + i));
            csv.Add($"drawing-{i}.png,drawing");
        }
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "Moderation.Streams.sln"))) root = root.Parent!;
        var photos = Directory.GetFiles(Path.Combine(root.FullName, "..", "shared", "pdq-vectors", "data", "reg-test-input", "labelme-subset"), "*.jpg");
        Assert.NotEmpty(photos);
        csv.AddRange(photos.Select(p => $"{Path.GetFullPath(p)},neutral"));
        var path = Path.Combine(_dir.FullName, "labels.csv");
        File.WriteAllLines(path, csv);
        return path;
    }

    private string Policy(string sexyReview)
    {
        var path = Path.Combine(_dir.FullName, $"policy-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, $$"""
            { "version": "photos-1",
              "takedown": { "porn": 0.9, "hentai": 0.85, "drawing": 0.5 },
              "review": { "porn": 0.6, "hentai": 0.55, "drawing": 0.3, "sexy": {{sexyReview}} } }
            """);
        return path;
    }

    [Fact]
    public async Task Classes_without_examples_keep_their_thresholds_in_the_written_policy()
    {
        var written = Path.Combine(_dir.FullName, "proposed.json");
        using var cli = await CliProcess.RunAsync(["evaluate", "--labels", Labels(), "--policy", Policy("0.8"), "--target-precision", "0.9",
            "--out", Path.Combine(_dir.FullName, "report"), "--write-policy", written], ct: Ct);

        Assert.Equal(ExitCodes.Ok, await cli.WaitForExitAsync(ct: Ct));
        var proposed = Contracts.Policy.Load(written);
        Assert.Equal(0.9f, proposed.Takedown["porn"]);
        Assert.Equal(0.85f, proposed.Takedown["hentai"]);
        Assert.Equal((0.6f, 0.55f, 0.8f), (proposed.Review["porn"], proposed.Review["hentai"], proposed.Review["sexy"]));
        Assert.Contains("drawing", proposed.Takedown.Keys);
        Assert.DoesNotContain(cli.StderrLines, l => l.Contains("unsafe proposal", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_proposal_reviewing_more_than_the_cap_exits_1_and_writes_no_policy()
    {
        // Every image has some sexy score above 1e-6, and the set has no sexy example to move that band.
        var written = Path.Combine(_dir.FullName, "proposed.json");
        using var cli = await CliProcess.RunAsync(["evaluate", "--labels", Labels(), "--policy", Policy("0.000001"), "--target-precision", "0.9",
            "--max-review-share", "0.25", "--out", Path.Combine(_dir.FullName, "report"), "--write-policy", written], ct: Ct);

        Assert.Equal(ExitCodes.Failure, await cli.WaitForExitAsync(ct: Ct));
        Assert.False(File.Exists(written));
        Assert.Contains(cli.StderrLines, l => l.StartsWith("moderation evaluate: unsafe proposal: ", StringComparison.Ordinal) && l.Contains("above the cap of 25"));
        Assert.Contains(cli.StderrLines, l => l == $"moderation evaluate: {written} not written: the proposal would weaken the policy");
        Assert.Contains("Not safe to use", File.ReadAllText(Path.Combine(_dir.FullName, "report", "summary.md")));
    }

    [Theory]
    [InlineData("1.5")]
    [InlineData("-0.1")]
    public async Task A_review_cap_outside_0_to_1_is_a_usage_error(string share)
    {
        using var cli = await CliProcess.RunAsync(["evaluate", "--labels", Labels(), "--max-review-share", share, "--out", Path.Combine(_dir.FullName, "r")], ct: Ct);
        Assert.Equal(ExitCodes.Usage, await cli.WaitForExitAsync(ct: Ct));
        Assert.Contains(cli.StderrLines, l => l == "moderation evaluate: --max-review-share must be in [0, 1]");
    }
}
