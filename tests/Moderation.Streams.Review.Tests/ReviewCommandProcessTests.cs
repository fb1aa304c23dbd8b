using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Moderation.Streams.Cli;
using Moderation.Streams.Contracts;
using Moderation.Streams.Evaluation;
using Moderation.Streams.Media;

namespace Moderation.Streams.Review.Tests;

/// <summary>The review verbs as a user runs them: <c>review user add</c>, <c>review</c> (the service) and <c>review export-labels</c>.</summary>
public sealed class ReviewCommandProcessTests : IAsyncLifetime
{
    private readonly ReviewStack _stack = new();
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;
    public async ValueTask DisposeAsync() => await _stack.DisposeAsync();

    private static async Task<(int Code, ModerationProcess Process)> AddUserAsync(string file, string name, string role, string? password)
    {
        var p = ModerationProcess.Start(["review", "user", "add", name, "--role", role, "--users-file", file]);
        if (password is not null) await p.StandardInput.WriteLineAsync(password);
        p.StandardInput.Close();
        return (await p.WaitForExitAsync(ct: Ct), p);
    }

    [Fact]
    public async Task User_add_writes_a_private_file_of_salted_slow_hashes_and_refuses_bad_input()
    {
        var file = Path.Combine(_stack.Dir.FullName, "people.json");
        var (code, p) = await AddUserAsync(file, "carol", "admin", "s3cret pass");
        using (p) Assert.True(code == ExitCodes.Ok, p.Transcript());
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        var text = await File.ReadAllTextAsync(file, Ct);
        Assert.DoesNotContain("s3cret", text);
        var stored = JsonDocument.Parse(text).RootElement.GetProperty("users")[0];
        Assert.Equal(("carol", "admin"), (stored.GetProperty("name").GetString(), stored.GetProperty("role").GetString()));
        Assert.StartsWith($"pbkdf2-sha256${PasswordHash.DefaultIterations}$", stored.GetProperty("password_hash").GetString());
        Assert.NotNull(new ReviewUsers(file).Authenticate("carol", "s3cret pass"));
        Assert.Null(new ReviewUsers(file).Authenticate("carol", "s3cret pas"));

        foreach (var (name, role, password) in new[] { ("dave", "boss", "pw"), ("bad name", "reviewer", "pw"), ("erin", "reviewer", "") })
        {
            var (bad, bp) = await AddUserAsync(file, name, role, password);
            using (bp)
            {
                Assert.True(bad == ExitCodes.Usage, bp.Transcript());
                Assert.Single(bp.StderrLines);
            }
        }
        Assert.Single(ReviewUsers.Read(file));
    }

    [Fact]
    public async Task The_service_prints_its_addresses_refuses_strangers_serves_users_and_stops_on_sigterm()
    {
        using var review = ModerationProcess.Start(["review", "--kafka", _stack.Broker.BootstrapServers, "--redis", _stack.Redis.Configuration,
            "--port", "0", "--telemetry-port", "0", "--users-file", _stack.UsersFile, "--media-root", _stack.Dir.FullName],
            new Dictionary<string, string?> { ["Review__BindAddress"] = "127.0.0.1" });
        var consoleLine = await review.WaitForLineAsync(l => l.StartsWith("console=", StringComparison.Ordinal), ct: Ct);
        var telemetryLine = await review.WaitForLineAsync(l => l.StartsWith("telemetry=", StringComparison.Ordinal), ct: Ct);
        using var http = new HttpClient { BaseAddress = new Uri(consoleLine["console=".Length..]) };
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/api/queue", Ct)).StatusCode);

        _stack.QueueForReview("c-proc", _stack.WriteMedia("p.jpg", SampleImages.Jpeg(41)));
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("bob:bob-pw")));
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        string queue;
        while (!(queue = await http.GetStringAsync("/api/queue", Ct)).Contains("c-proc"))
        {
            Assert.True(DateTime.UtcNow < end, review.Transcript());
            await Task.Delay(200, Ct);
        }
        using var metrics = new HttpClient();
        var telemetry = telemetryLine["telemetry=".Length..].Split(' ')[0];
        Assert.Contains("moderation_review_queued", await metrics.GetStringAsync(telemetry + "/metrics", Ct));

        review.Terminate();
        Assert.True(await review.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, review.Transcript());
    }

    [Fact]
    public async Task Export_labels_writes_the_verdicts_as_a_set_evaluate_reads()
    {
        var console = await _stack.StartConsoleAsync();
        var bad = SampleImages.Jpeg(42);
        _stack.QueueForReview("c-bad", _stack.WriteMedia("bad.jpg", bad));
        _stack.QueueForReview("c-fine", _stack.WriteMedia("fine.jpg", SampleImages.Png(43)));
        _stack.QueueForReview("c-words", text: "cheap followers, very real", reasons: [new DecisionReason { Source = "text", Field = "text", Kind = "term", Bank = "spam", Category = "spam", Start = 0, End = 5 }]);
        _stack.QueueForReview("c-open", _stack.WriteMedia("open.jpg", SampleImages.Jpeg(44)));
        await ReviewStack.WaitQueuedAsync(console.Store, 4);
        foreach (var (id, verdict) in new[] { ("c-bad", "takedown"), ("c-fine", "allow"), ("c-words", "takedown") })
        {
            Assert.True((await console.Verdicts.ClaimAsync(id, "alice")).IsOk);
            Assert.True((await console.Verdicts.VerdictAsync(id, "alice", new VerdictRequest(verdict, null, null), Ct)).IsOk);
        }

        var output = Path.Combine(_stack.Dir.FullName, "labels-out");
        using var export = await ModerationProcess.RunAsync(["review", "export-labels", "--kafka", _stack.Broker.BootstrapServers, "--out", output, "--media-root", _stack.Dir.FullName], ct: Ct);
        Assert.True(await export.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, export.Transcript());
        Assert.Contains("verdicts=3 media=2 texts=1 unavailable=0", export.StdoutLines[^1]);

        var set = LabelledSet.Load(Path.Combine(output, "labels.csv"));
        Assert.Equal([("c-bad.jpeg", "unsafe"), ("c-fine.png", "safe")], set.Images.Select(i => (Path.GetFileName(i.Path), i.Label)).Order().ToArray());
        Assert.Equal(bad, await File.ReadAllBytesAsync(set.Images.Single(i => i.Label == "unsafe").Path, Ct));
        Assert.Equal(["text,label", "\"cheap followers, very real\",spam"], (await File.ReadAllLinesAsync(Path.Combine(output, "texts.csv"), Ct)).ToArray());
    }
}
