using System.Text.Json;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Cli.Tests;

/// <summary><c>moderation demo</c> as a new user runs it: the whole embedded stack in one process, every upload decided
/// once, captions and text comments screened by the text banks.</summary>
public sealed class DemoCommandTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_demo_decides_every_upload_once_and_screens_captions_and_comments()
    {
        using var demo = await CliProcess.RunAsync(["demo", "--images", "2", "--json"], deadline: TimeSpan.FromMinutes(4), ct: Ct);
        Assert.Equal(ExitCodes.Ok, await demo.WaitForExitAsync(TimeSpan.FromMinutes(4), Ct));

        var outcomes = demo.StdoutLines.Where(l => l.StartsWith('{'))
            .Select(l => JsonDocument.Parse(l).RootElement)
            .ToDictionary(e => e.GetProperty("content_id").GetString()!, e => e.GetProperty("outcome").GetString()!);
        Assert.Equal(Actions.Allow, outcomes["caption-benign"]);
        Assert.Equal(Actions.Review, outcomes["caption-scam"]); // obfuscated "free crypto" in the caption of an allowed picture
        Assert.Equal(Actions.Review, outcomes["caption-link"]); // a defanged link to a banked domain
        Assert.Equal(Actions.Allow, outcomes["comment-ok"]);
        Assert.Equal(Actions.Review, outcomes["comment-scam"]);
        Assert.Equal(Actions.Takedown, outcomes["known-bad-copy"]);
        Assert.Equal("dlq", outcomes["bad-escape"]);
        Assert.Contains("every upload has exactly one decision or DLQ record", demo.StdoutLines);
    }
}
