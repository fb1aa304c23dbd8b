using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Moderation.Streams.Cli;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media;
using StackExchange.Redis;

namespace Moderation.Streams.Review.Tests;

/// <summary>
/// The console as a process, killed with SIGKILL while verdicts stream in, then started again under its name: every
/// verdict it acknowledged is published exactly once, no verdict is published twice, and none is left pending.
/// </summary>
public sealed class ConsoleKillTests : IAsyncLifetime
{
    private const int Items = 40;
    private readonly ReviewStack _stack = new();
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;
    public async ValueTask DisposeAsync() => await _stack.DisposeAsync();

    private ModerationProcess StartConsole() => ModerationProcess.Start(
        ["review", "--kafka", _stack.Broker.BootstrapServers, "--redis", _stack.Redis.Configuration, "--port", "0", "--telemetry-port", "-1",
            "--users-file", _stack.UsersFile, "--media-root", _stack.Dir.FullName],
        new Dictionary<string, string?> { ["Review__BindAddress"] = "127.0.0.1", ["Review__InstanceId"] = "review-kill-test" });

    private static async Task<HttpClient> ClientAsync(ModerationProcess console)
    {
        var line = await console.WaitForLineAsync(l => l.StartsWith("console=", StringComparison.Ordinal), ct: Ct);
        var http = new HttpClient { BaseAddress = new Uri(line["console=".Length..]), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("alice:alice-pw")));
        return http;
    }

    [Fact]
    public async Task Killed_with_sigkill_mid_stream_every_acknowledged_verdict_is_published_once_and_none_twice()
    {
        for (int i = 0; i < Items; i++)
            _stack.QueueForReview($"k-{i:00}", _stack.WriteMedia($"k{i}.jpg", SampleImages.Jpeg(500 + i)),
                pdq: new PdqInfo(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(i))).ToLowerInvariant(), 100), uploader: "u-k");

        var first = StartConsole();
        var http = await ClientAsync(first);
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (JsonDocument.Parse(await http.GetStringAsync("/api/queue?limit=1000", Ct)).RootElement.GetArrayLength() < Items)
        {
            Assert.True(DateTime.UtcNow < end, first.Transcript());
            await Task.Delay(200, Ct);
        }

        // Verdicts one after another; the console is killed while they flow.
        var acknowledged = new HashSet<string>();
        int next = 0;
        while (next < Items)
        {
            var id = $"k-{next:00}";
            if (acknowledged.Count >= 5 && !first.HasExited)
            {
                // Kill while this item's verdict is in flight.
                var inFlight = Task.Run(async () =>
                {
                    await http.PostAsync($"/api/items/{id}/claim", null, Ct);
                    return await http.PostAsync($"/api/items/{id}/verdict", new StringContent("""{"verdict":"takedown","bank":"killed"}""", Encoding.UTF8, "application/json"), Ct);
                }, Ct);
                await Task.Delay(5, Ct);
                first.Kill();
                await first.WaitForExitAsync(ct: Ct);
                try
                {
                    if ((await inFlight).StatusCode == HttpStatusCode.OK) acknowledged.Add(id);
                }
                catch (HttpRequestException)
                {
                }
                catch (TaskCanceledException)
                {
                }
                break; // the in-flight item is offered again below: recorded before the kill, or taken anew

            }
            Assert.Equal(HttpStatusCode.OK, (await http.PostAsync($"/api/items/{id}/claim", null, Ct)).StatusCode);
            var r = await http.PostAsync($"/api/items/{id}/verdict", new StringContent("""{"verdict":"takedown","bank":"killed"}""", Encoding.UTF8, "application/json"), Ct);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            acknowledged.Add(id);
            next++;
        }
        Assert.True(first.HasExited, "the console was never killed");

        // Started again under its name: it finishes what the killed one left pending, then takes the rest.
        using var second = StartConsole();
        using var http2 = await ClientAsync(second);
        for (; next < Items; next++)
        {
            var id = $"k-{next:00}";
            var claim = await http2.PostAsync($"/api/items/{id}/claim", null, Ct);
            if (claim.StatusCode == HttpStatusCode.Conflict) continue; // judged by the killed console after all
            Assert.Equal(HttpStatusCode.OK, claim.StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await http2.PostAsync($"/api/items/{id}/verdict", new StringContent("""{"verdict":"takedown","bank":"killed"}""", Encoding.UTF8, "application/json"), Ct)).StatusCode);
            acknowledged.Add(id);
        }
        var store = new ReviewStore(await ConnectionMultiplexer.ConnectAsync(_stack.Redis.Configuration));
        end = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while ((await store.PendingAsync()).Count > 0)
        {
            Assert.True(DateTime.UtcNow < end, "a verdict stayed pending\n" + second.Transcript());
            await Task.Delay(200, Ct);
        }

        var verdicts = _stack.ReadAll(Topics.Reviews).GroupBy(r => JsonDocument.Parse(r.Value).RootElement.GetProperty("content_id").GetString()!).ToDictionary(g => g.Key, g => g.Count());
        var finals = _stack.ReadAll(Topics.Takedown).GroupBy(r => DecisionEvent.FromUtf8Json(r.Value).ContentId).ToDictionary(g => g.Key, g => g.Count());
        Assert.All(verdicts, v => Assert.Equal(1, v.Value));   // none twice
        Assert.All(finals, f => Assert.Equal(1, f.Value));
        Assert.Equal(verdicts.Keys.Order(), finals.Keys.Order());
        Assert.Subset(verdicts.Keys.ToHashSet(), acknowledged);  // every acknowledged one published
        // Every item is judged exactly once in the end: the killed one's in-flight verdict either landed or was never recorded (then retaken).
        Assert.Equal(Items, verdicts.Count);
        second.Terminate();
        Assert.Equal(ExitCodes.Ok, await second.WaitForExitAsync(ct: Ct));
    }
}
