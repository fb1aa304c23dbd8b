using System.Net;
using System.Text.RegularExpressions;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media;

namespace Moderation.Streams.Review.Tests;

/// <summary>The console's forms as a browser posts them (cookie login, antiforgery tokens): escalation, bulk verdicts
/// over a PDQ cluster, claim release, video frame timestamps, and forms without a token refused.</summary>
public sealed partial class ConsolePageTests : IAsyncLifetime
{
    private readonly ReviewStack _stack = new();
    private ReviewStack.Console _console = null!;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _console = await _stack.StartConsoleAsync();
    public async ValueTask DisposeAsync() => await _stack.DisposeAsync();

    [GeneratedRegex("name=\"__af\" value=\"([^\"]+)\"")]
    private static partial Regex TokenField();

    /// <summary>A cookie-holding client logged in through the form.</summary>
    private async Task<HttpClient> LoginAsync(string user, string password)
    {
        var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() }) { BaseAddress = _console.Address };
        var login = await client.GetStringAsync("/login", Ct);
        var response = await client.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__af"] = TokenField().Match(login).Groups[1].Value, ["username"] = user, ["password"] = password, ["return"] = "/",
        }), Ct);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return client;
    }

    private static async Task<HttpResponseMessage> PostFormAsync(HttpClient client, string page, string action, Dictionary<string, string> fields, IEnumerable<string>? ids = null)
    {
        var html = await client.GetStringAsync(page, Ct);
        var pairs = fields.Select(kv => KeyValuePair.Create(kv.Key, kv.Value)).Append(KeyValuePair.Create("__af", TokenField().Match(html).Groups[1].Value))
            .Concat((ids ?? []).Select(id => KeyValuePair.Create("ids", id)));
        return await client.PostAsync(action, new FormUrlEncodedContent(pairs), Ct);
    }

    private static PdqInfo Pdq(string hex) => new(hex, 100);

    [Fact]
    public async Task A_form_without_its_antiforgery_token_is_refused_and_a_wrong_password_is_a_401_page()
    {
        _stack.QueueForReview("c-af", _stack.WriteMedia("af.jpg", SampleImages.Jpeg(81)));
        await ReviewStack.WaitQueuedAsync(_console.Store, 1);
        using var alice = await LoginAsync("alice", "alice-pw");
        var forged = await alice.PostAsync("/items/c-af/claim", new FormUrlEncodedContent(new Dictionary<string, string>()), Ct);
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Null(await _console.Store.ClaimedByAsync("c-af"));

        using var anonymous = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer() }) { BaseAddress = _console.Address };
        var login = await anonymous.GetStringAsync("/login", Ct);
        var wrong = await anonymous.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__af"] = TokenField().Match(login).Groups[1].Value, ["username"] = "alice", ["password"] = "nope",
        }), Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Contains("wrong password", await wrong.Content.ReadAsStringAsync(Ct));
    }

    [Fact]
    public async Task Escalating_releases_the_claim_and_puts_the_item_first_with_its_note()
    {
        _stack.QueueForReview("c-hard", _stack.WriteMedia("hard.jpg", SampleImages.Jpeg(82)));
        _stack.QueueForReview("c-bank", _stack.WriteMedia("bank.jpg", SampleImages.Jpeg(83)), reasons: [new DecisionReason { Source = "bank", Bank = "b", Distance = 2 }]);
        await ReviewStack.WaitQueuedAsync(_console.Store, 2);
        using var alice = await LoginAsync("alice", "alice-pw");
        Assert.Equal(HttpStatusCode.Redirect, (await PostFormAsync(alice, "/items/c-hard", "/items/c-hard/claim", [])).StatusCode);
        Assert.Equal("alice", await _console.Store.ClaimedByAsync("c-hard"));
        var before = (await _console.Store.GetItemAsync("c-hard"))!.Priority;

        var escalated = await PostFormAsync(alice, "/items/c-hard", "/items/c-hard/verdict", new() { ["verdict"] = "escalate", ["note"] = "needs a specialist" });
        Assert.Equal(HttpStatusCode.Redirect, escalated.StatusCode);
        var item = (await _console.Store.GetItemAsync("c-hard"))!;
        Assert.True(item.Escalated);
        Assert.Equal(("alice", "needs a specialist"), (item.EscalatedBy, item.EscalationNote));
        Assert.Equal(before + ReviewPriority.EscalationBoost, item.Priority);
        Assert.Null(await _console.Store.ClaimedByAsync("c-hard"));
        Assert.Equal("c-hard", (await _console.Store.ListAsync(10, byPriority: true))[0].Item.ContentId);
        Assert.Contains("escalated", await alice.GetStringAsync("/?escalated=1", Ct));
        Assert.Empty(_stack.ReadAll(Topics.Reviews));
    }

    [Fact]
    public async Task A_bulk_verdict_judges_the_selected_items_of_the_pdq_cluster_and_skips_those_claimed_by_others()
    {
        // Three copies of one picture (hashes 0, 8 and 16 bits apart) and one other picture.
        const string a = "0000000000000000000000000000000000000000000000000000000000000000";
        const string b = "00000000000000000000000000000000000000000000000000000000000000ff";
        const string c = "000000000000000000000000000000000000000000000000000000000000ffff";
        const string far = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
        foreach (var (id, hex) in new[] { ("c-a", a), ("c-b", b), ("c-c", c), ("c-far", far) })
            _stack.QueueForReview(id, _stack.WriteMedia(id + ".jpg", SampleImages.Jpeg(id.GetHashCode() & 0xffff)), pdq: Pdq(hex));
        await ReviewStack.WaitQueuedAsync(_console.Store, 4);
        using var alice = await LoginAsync("alice", "alice-pw");
        var page = await alice.GetStringAsync("/items/c-a", Ct);
        Assert.Contains("id=\"cluster\"", page);
        Assert.Contains("value=\"c-b\"", page);
        Assert.Contains("value=\"c-c\"", page);
        Assert.DoesNotContain("value=\"c-far\"", page);

        // Bob holds c-c: the bulk verdict skips it.
        Assert.True((await _console.Verdicts.ClaimAsync("c-c", "bob")).IsOk);
        var bulk = await PostFormAsync(alice, "/items/c-a", "/items/c-a/bulk", new() { ["verdict"] = "takedown", ["note"] = "same picture" }, ["c-b", "c-c"]);
        Assert.Equal(HttpStatusCode.Redirect, bulk.StatusCode);
        Assert.Contains("1 done, 1 skipped", Uri.UnescapeDataString(bulk.Headers.Location!.ToString()));
        var judged = _stack.ReadAll(Topics.Reviews).Select(r => System.Text.Json.JsonDocument.Parse(r.Value).RootElement.GetProperty("content_id").GetString()).ToList();
        Assert.Equal(["c-b"], judged);
        var audit = await _console.Store.AuditAsync(10);
        Assert.Equal(("c-b", "c-a"), (audit.Single().Event.ContentId, audit.Single().BulkOf));
        Assert.Equal("bob", await _console.Store.ClaimedByAsync("c-c"));
    }

    [Fact]
    public async Task The_queue_marks_items_past_the_age_target_and_shows_how_long_claims_have_left()
    {
        _stack.QueueForReview("c-old", _stack.WriteMedia("old.jpg", SampleImages.Jpeg(85)), decidedAt: DateTimeOffset.UtcNow.AddHours(-5));
        _stack.QueueForReview("c-new", _stack.WriteMedia("new.jpg", SampleImages.Jpeg(86)));
        await ReviewStack.WaitQueuedAsync(_console.Store, 2);
        Assert.True((await _console.Verdicts.ClaimAsync("c-new", "bob")).IsOk);
        using var alice = await LoginAsync("alice", "alice-pw");
        var page = await alice.GetStringAsync("/", Ct);
        Assert.Contains("1 shown waiting longer than the 4 h 0 min target", page);
        Assert.Matches("<tr data-href=\"/items/c-old\" class=\"late\">", page);
        Assert.Matches("<tr data-href=\"/items/c-new\">", page);
        Assert.Matches(@"bob \((14|15) min left\)", page); // a 15-minute claim just taken
    }

    [Fact]
    public async Task Only_the_holder_or_an_admin_releases_a_claim_and_a_video_item_offers_its_deciding_frames()
    {
        _stack.QueueForReview("c-video", _stack.WriteMedia("v.mp4", SampleImages.Jpeg(84)), reasons:
            [new DecisionReason { Source = "model", Label = "porn", Score = 0.7f, FrameTimestampsMs = [1500, 4000], FramesSampled = 12 }]);
        await ReviewStack.WaitQueuedAsync(_console.Store, 1);
        using var alice = await LoginAsync("alice", "alice-pw");
        var page = await alice.GetStringAsync("/items/c-video", Ct);
        Assert.Contains("<video", page);
        Assert.Contains("data-seek=\"1500\"", page);
        Assert.Contains("data-seek=\"4000\"", page);
        Assert.Contains("2 of 12 frames", page);

        Assert.True((await _console.Verdicts.ClaimAsync("c-video", "bob")).IsOk);
        await PostFormAsync(alice, "/items/c-video", "/items/c-video/release", []);
        Assert.Equal("bob", await _console.Store.ClaimedByAsync("c-video"));
        using var root = await LoginAsync("root", "root-pw");
        await PostFormAsync(root, "/items/c-video", "/items/c-video/release", []);
        Assert.Null(await _console.Store.ClaimedByAsync("c-video"));
    }
}
