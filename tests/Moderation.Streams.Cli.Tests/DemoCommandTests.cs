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
        int exit = await demo.WaitForExitAsync(TimeSpan.FromMinutes(4), Ct);
        Assert.True(exit == ExitCodes.Ok, demo.Transcript());

        // --json: standard output is pure NDJSON (banner, tables and logs go to standard error).
        Assert.NotEmpty(demo.StdoutLines);
        var objects = new List<JsonElement>();
        foreach (var line in demo.StdoutLines)
        {
            try
            {
                objects.Add(JsonDocument.Parse(line).RootElement);
            }
            catch (JsonException e)
            {
                Assert.Fail($"not a JSON line on stdout: {line} ({e.Message})\n{demo.Transcript()}");
            }
        }
        Assert.All(objects, o => Assert.Equal(JsonValueKind.Object, o.ValueKind));
        var summary = objects[^1].GetProperty("summary");
        Assert.True(summary.GetProperty("ok").GetBoolean(), demo.Transcript());
        Assert.Equal(objects.Count - 1, summary.GetProperty("decided").GetInt32());
        Assert.Equal(summary.GetProperty("uploads").GetInt32(), summary.GetProperty("decided").GetInt32());
        Assert.Contains(demo.StderrLines, l => l.Contains("every upload has exactly one decision or DLQ record", StringComparison.Ordinal));

        var outcomes = objects.SkipLast(1)
            .ToDictionary(e => e.GetProperty("content_id").GetString()!, e => e.GetProperty("outcome").GetString()!);
        Assert.Equal(Actions.Allow, outcomes["caption-benign"]);
        Assert.Equal(Actions.Review, outcomes["caption-scam"]); // obfuscated "free crypto" in the caption of an allowed picture
        Assert.Equal(Actions.Review, outcomes["caption-link"]); // a defanged link to a banked domain
        Assert.Equal(Actions.Allow, outcomes["comment-ok"]);
        Assert.Equal(Actions.Review, outcomes["comment-scam"]);
        Assert.Equal(Actions.Takedown, outcomes["known-bad-copy"]);
        Assert.Equal("dlq", outcomes["bad-escape"]);
    }

    [Fact]
    public async Task With_linger_the_demo_leaves_the_review_console_up_with_a_one_time_login_that_opens_the_queue()
    {
        using var demo = CliProcess.Start(["demo", "--images", "2", "--linger", "120"]);
        var line = await demo.WaitForLineAsync(l => l.Contains("review console:", StringComparison.Ordinal), TimeSpan.FromMinutes(4), Ct);
        var match = System.Text.RegularExpressions.Regex.Match(line, @"review console: (http://\S+) .*one-time password ([^)\s]+)");
        Assert.True(match.Success, line);
        using var http = new HttpClient { BaseAddress = new Uri(match.Groups[1].Value) };
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await http.GetAsync("/api/queue", Ct)).StatusCode);
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"demo:{match.Groups[2].Value}")));
        // The demo's review decisions are its queue (queued as the console reads the topic).
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        JsonElement queue;
        while ((queue = JsonDocument.Parse(await http.GetStringAsync("/api/queue", Ct)).RootElement).GetArrayLength() == 0)
        {
            Assert.True(DateTime.UtcNow < end, demo.Transcript());
            await Task.Delay(300, Ct);
        }
        Assert.All(queue.EnumerateArray(), i => Assert.NotEmpty(i.GetProperty("reasons").EnumerateArray()));
        demo.Terminate();
        Assert.True(await demo.WaitForExitAsync(TimeSpan.FromMinutes(1), Ct) == ExitCodes.Ok, demo.Transcript());
    }
}
