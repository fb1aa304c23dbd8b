using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media;
using Moderation.Streams.Redis.Banks;
using StackExchange.Redis;

namespace Moderation.Streams.Review.Tests;

/// <summary>The JSON API of DESIGN.md "Human review", every status code it names, against a real broker and Garnet.</summary>
public sealed class ReviewApiTests : IAsyncLifetime
{
    private readonly ReviewStack _stack = new();
    private ReviewStack.Console _console = null!;
    private static readonly PdqInfo SomePdq = new("f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22", 100);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _console = await _stack.StartConsoleAsync();
    public async ValueTask DisposeAsync() => await _stack.DisposeAsync();

    private static async Task<JsonElement> Json(HttpResponseMessage r) => JsonDocument.Parse(await r.Content.ReadAsStringAsync(Ct)).RootElement;

    private static StringContent Body(object value) => new(JsonSerializer.Serialize(value), Encoding.UTF8, "application/json");

    [Fact]
    public async Task Nothing_answers_without_a_user()
    {
        _stack.QueueForReview("c-anon", _stack.WriteMedia("a.jpg", SampleImages.Jpeg(1)));
        await ReviewStack.WaitQueuedAsync(_console.Store, 1);
        using var anonymous = _console.Client();
        foreach (var path in new[] { "/api/queue", "/api/items/c-anon", "/api/items/c-anon/media", "/api/overturns" })
        {
            var r = await anonymous.GetAsync(path, Ct);
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
            Assert.StartsWith("Basic", r.Headers.WwwAuthenticate.ToString());
        }
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync("/api/items/c-anon/claim", null, Ct)).StatusCode);
        // Pages send the browser to the login form; media pages too.
        foreach (var path in new[] { "/", "/items/c-anon", "/items/c-anon/media", "/audit" })
        {
            var r = await anonymous.GetAsync(path, Ct);
            Assert.Equal(HttpStatusCode.Redirect, r.StatusCode);
            Assert.StartsWith("/login", r.Headers.Location!.PathAndQuery);
        }
        using var wrong = _console.Client("alice", "not-her-password");
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("/api/queue", Ct)).StatusCode);
        using var nobody = _console.Client("mallory", "alice-pw");
        Assert.Equal(HttpStatusCode.Unauthorized, (await nobody.GetAsync("/api/queue", Ct)).StatusCode);
        // The cookie scheme does not open the API, nor Basic the pages.
        using var alice = _console.Alice;
        Assert.Equal(HttpStatusCode.Redirect, (await alice.GetAsync("/", Ct)).StatusCode);
    }

    [Fact]
    public async Task Failed_logins_are_rate_limited_per_address()
    {
        using var wrong = _console.Client("alice", "guess");
        var codes = new List<HttpStatusCode>();
        for (int i = 0; i < 12; i++) codes.Add((await wrong.GetAsync("/api/queue", Ct)).StatusCode);
        Assert.Equal(Enumerable.Repeat(HttpStatusCode.Unauthorized, 10), codes.Take(10));
        Assert.Equal(HttpStatusCode.TooManyRequests, codes[^1]);
        // Throttled before the password is checked: even the right one waits.
        using var alice = _console.Alice;
        var r = await alice.GetAsync("/api/queue", Ct);
        Assert.Equal(HttpStatusCode.TooManyRequests, r.StatusCode);
        Assert.True(r.Headers.RetryAfter?.Delta > TimeSpan.Zero);
    }

    [Fact]
    public async Task Behind_a_trusted_proxy_failed_logins_count_per_forwarded_address_and_untrusted_headers_are_ignored()
    {
        var proxied = await _stack.StartConsoleAsync(new() { ["Review:TrustedProxies:0"] = "127.0.0.1" });
        async Task<HttpStatusCode> Try(ReviewStack.Console console, string forwardedFor, string password)
        {
            using var client = console.Client("alice", password);
            client.DefaultRequestHeaders.Add("X-Forwarded-For", forwardedFor);
            return (await client.GetAsync("/api/queue", Ct)).StatusCode;
        }
        for (int i = 0; i < 10; i++) Assert.Equal(HttpStatusCode.Unauthorized, await Try(proxied, "203.0.113.7", "guess"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await Try(proxied, "203.0.113.7", "alice-pw"));
        // Another reviewer behind the same proxy is not locked out by the first one's failures.
        Assert.Equal(HttpStatusCode.OK, await Try(proxied, "198.51.100.2", "alice-pw"));

        // Where no proxy is trusted, a forged header changes nothing: the connection's address is throttled.
        for (int i = 0; i < 10; i++) Assert.Equal(HttpStatusCode.Unauthorized, await Try(_console, $"192.0.2.{i}", "guess"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await Try(_console, "192.0.2.200", "alice-pw"));
    }

    [Fact]
    public async Task Writes_from_another_site_are_refused_and_a_verdict_must_be_json()
    {
        _stack.QueueForReview("c-csrf", _stack.WriteMedia("csrf.jpg", SampleImages.Jpeg(77)));
        await ReviewStack.WaitQueuedAsync(_console.Store, 1);
        using var alice = _console.Alice;
        async Task<HttpStatusCode> Post(string path, HttpContent? body, params (string Name, string Value)[] headers)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = body };
            foreach (var (name, value) in headers) request.Headers.TryAddWithoutValidation(name, value);
            return (await alice.SendAsync(request, Ct)).StatusCode;
        }
        // What a page on another site could make a browser holding Basic credentials send.
        Assert.Equal(HttpStatusCode.Forbidden, await Post("/api/items/c-csrf/claim", null, ("Sec-Fetch-Site", "cross-site")));
        Assert.Equal(HttpStatusCode.Forbidden, await Post("/api/items/c-csrf/claim", null, ("Origin", "https://evil.example")));
        Assert.Null(await _console.Store.ClaimedByAsync("c-csrf"));
        // The same console's pages, and scripts that send no such header, may write.
        Assert.Equal(HttpStatusCode.OK, await Post("/api/items/c-csrf/claim", null, ("Sec-Fetch-Site", "same-origin"), ("Origin", _console.Address.GetLeftPart(UriPartial.Authority))));
        // A verdict is JSON only: a cross-site form's text/plain body that happens to parse is refused.
        Assert.Equal(HttpStatusCode.UnsupportedMediaType,
            await Post("/api/items/c-csrf/verdict", new StringContent("""{"verdict":"allow"}""", Encoding.UTF8, "text/plain")));
        Assert.Equal(HttpStatusCode.OK, await Post("/api/items/c-csrf/verdict", Body(new { verdict = "allow" })));
    }

    [Fact]
    public async Task Queue_lists_items_oldest_first_with_the_contract_fields()
    {
        var t0 = DateTimeOffset.UtcNow.AddMinutes(-10);
        _stack.QueueForReview("c-new", _stack.WriteMedia("n.jpg", SampleImages.Jpeg(2)), decidedAt: t0.AddMinutes(5));
        _stack.QueueForReview("c-old", _stack.WriteMedia("o.jpg", SampleImages.Jpeg(3)), decidedAt: t0,
            reasons: [new DecisionReason { Source = "bank", Bank = "known-bad", Distance = 20, MatchId = "h-1" }]);
        _stack.QueueForReview("c-mid", _stack.WriteMedia("m.jpg", SampleImages.Jpeg(4)), decidedAt: t0.AddMinutes(2));
        await ReviewStack.WaitQueuedAsync(_console.Store, 3);
        using var alice = _console.Alice;
        var queue = await Json(await alice.GetAsync("/api/queue", Ct));
        Assert.Equal(["c-old", "c-mid", "c-new"], queue.EnumerateArray().Select(i => i.GetProperty("content_id").GetString()).ToArray());
        var first = queue[0];
        Assert.Equal(JsonValueKind.Null, first.GetProperty("claimed_by").ValueKind);
        Assert.Equal("bank", first.GetProperty("reasons")[0].GetProperty("source").GetString());
        Assert.Equal("known-bad", first.GetProperty("reasons")[0].GetProperty("bank").GetString());
        Assert.Equal(t0.ToUnixTimeMilliseconds(), first.GetProperty("queued_at").GetDateTimeOffset().ToUnixTimeMilliseconds());

        var two = await Json(await alice.GetAsync("/api/queue?limit=2", Ct));
        Assert.Equal(2, two.GetArrayLength());
        var rest = await Json(await alice.GetAsync("/api/queue?limit=2&offset=2", Ct));
        Assert.Equal("c-new", Assert.Single(rest.EnumerateArray()).GetProperty("content_id").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, (await alice.GetAsync("/api/queue?offset=-1", Ct)).StatusCode);
        foreach (var bad in new[] { "0", "-1", "abc", "1.5" })
            Assert.Equal(HttpStatusCode.BadRequest, (await alice.GetAsync($"/api/queue?limit={bad}", Ct)).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await alice.PostAsync("/api/items/c-mid/claim", null, Ct)).StatusCode);
        queue = await Json(await alice.GetAsync("/api/queue", Ct));
        Assert.Equal("alice", queue[1].GetProperty("claimed_by").GetString());
    }

    [Fact]
    public async Task Claims_are_exclusive_and_verdicts_need_the_claim()
    {
        _stack.QueueForReview("c-1", _stack.WriteMedia("1.jpg", SampleImages.Jpeg(5)), pdq: SomePdq);
        await ReviewStack.WaitQueuedAsync(_console.Store, 1);
        using var alice = _console.Alice;
        using var bob = _console.Bob;

        Assert.Equal(HttpStatusCode.NotFound, (await alice.PostAsync("/api/items/c-nope/claim", null, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await alice.PostAsync("/api/items/c-nope/verdict", Body(new { verdict = "allow" }), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await alice.PostAsync("/api/items/c-1/verdict", Body(new { verdict = "allow" }), Ct)).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await alice.PostAsync("/api/items/c-1/claim", null, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await alice.PostAsync("/api/items/c-1/claim", null, Ct)).StatusCode); // renewing one's own
        var taken = await bob.PostAsync("/api/items/c-1/claim", null, Ct);
        Assert.Equal(HttpStatusCode.Conflict, taken.StatusCode);
        Assert.Equal("alice", (await Json(taken)).GetProperty("claimed_by").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await bob.PostAsync("/api/items/c-1/verdict", Body(new { verdict = "takedown" }), Ct)).StatusCode);

        foreach (var bad in new object[] { new { verdict = "delete" }, new { verdict = "review" }, new { verdict = "allow", bank = "reviewed" }, new { verdict = "takedown", bank = "bad name!" } })
            Assert.Equal(HttpStatusCode.BadRequest, (await alice.PostAsync("/api/items/c-1/verdict", Body(bad), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await alice.PostAsync("/api/items/c-1/verdict", new StringContent("{not json", Encoding.UTF8, "application/json"), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await alice.PostAsync("/api/items/c-1/verdict", Body(new { verdict = "allow", note = new string('x', VerdictEvent.MaxNoteChars + 1) }), Ct)).StatusCode);

        var ok = await alice.PostAsync("/api/items/c-1/verdict", Body(new { verdict = "takedown", bank = "reviewed", note = "known scam picture" }), Ct);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        // Exactly once per claim: a second verdict, by anyone, is refused.
        Assert.Equal(HttpStatusCode.Conflict, (await alice.PostAsync("/api/items/c-1/verdict", Body(new { verdict = "allow" }), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await bob.PostAsync("/api/items/c-1/claim", null, Ct)).StatusCode);
        Assert.Empty((await Json(await alice.GetAsync("/api/queue", Ct))).EnumerateArray());
    }

    [Fact]
    public async Task A_takedown_verdict_publishes_the_verdict_and_the_final_decision_and_banks_the_hash()
    {
        var queued = _stack.QueueForReview("c-bank", _stack.WriteMedia("b.jpg", SampleImages.Jpeg(6)), pdq: SomePdq, uploader: "u-7");
        await ReviewStack.WaitQueuedAsync(_console.Store, 1);
        using var alice = _console.Alice;
        Assert.Equal(HttpStatusCode.OK, (await alice.PostAsync("/api/items/c-bank/claim", null, Ct)).StatusCode);
        var response = await Json(await alice.PostAsync("/api/items/c-bank/verdict", Body(new { verdict = "takedown", bank = "reviewed", note = "n" }), Ct));
        Assert.Equal("takedown", response.GetProperty("verdict").GetString());

        var verdicts = _stack.ReadAll(Topics.Reviews);
        var verdict = Assert.Single(verdicts);
        var v = JsonDocument.Parse(verdict.Value).RootElement;
        Assert.Equal("c-bank", v.GetProperty("content_id").GetString());
        Assert.Equal("takedown", v.GetProperty("verdict").GetString());
        Assert.Equal("alice", v.GetProperty("reviewer").GetString());
        Assert.Equal("n", v.GetProperty("note").GetString());
        Assert.Equal("reviewed", v.GetProperty("banked").GetProperty("bank").GetString());
        Assert.Equal("c-bank", v.GetProperty("banked").GetProperty("id").GetString());
        Assert.Equal("test-policy.1", v.GetProperty("review_of").GetProperty("policy_version").GetString());
        Assert.Equal("nsfw-mobilenet-v2@1", v.GetProperty("review_of").GetProperty("model_version").GetString());
        Assert.True(v.TryGetProperty("decided_at", out _));

        var final = Assert.Single(_stack.ReadAll(Topics.Takedown));
        Assert.Equal(verdict.VerdictId, final.VerdictId);
        var d = DecisionEvent.FromUtf8Json(final.Value);
        Assert.Equal(Actions.Takedown, d.Action);
        var reason = Assert.Single(d.Reasons);
        Assert.Equal(("review", "alice"), (reason.Source, reason.Reviewer));
        Assert.Equal(queued.Pdq, d.Pdq);
        Assert.Equal(queued.Source, d.Source);
        Assert.Empty(_stack.ReadAll(Topics.Allow));

        var redis = await ConnectionMultiplexer.ConnectAsync(_stack.Redis.Configuration);
        // A reviewer's takedown is a strike against the uploader, kept at least Review:StrikeWindow (7 days).
        var strikes = new Moderation.Streams.Redis.Uploaders.RedisUploaderState(redis).StrikesKey("u-7");
        Assert.Equal(["c-bank"], (await redis.GetDatabase().SortedSetRangeByRankAsync(strikes)).Select(v => (string)v!).ToArray());
        Assert.InRange((await redis.GetDatabase().KeyTimeToLiveAsync(strikes))!.Value, TimeSpan.FromDays(6.9), TimeSpan.FromDays(7.1));
        var (_, entries) = await new RedisBankStore(redis).LoadAsync("reviewed", Ct);
        var entry = Assert.Single(entries);
        Assert.Equal(("c-bank", SomePdq.Hash, "review:alice"), (entry.Id, entry.Hash.ToString(), entry.Source));

        // The audit has it; the overturn counts say the model's porn flag was upheld.
        using var root = _console.Root;
        var audit = await Json(await root.GetAsync("/api/audit", Ct));
        Assert.Equal("c-bank", audit[0].GetProperty("content_id").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, (await alice.GetAsync("/api/audit", Ct)).StatusCode);
        var overturns = await Json(await alice.GetAsync("/api/overturns", Ct));
        var row = overturns.EnumerateArray().Single(r => r.GetProperty("class").GetString() == "model:porn");
        Assert.Equal((1, 0), (row.GetProperty("reviewed").GetInt32(), row.GetProperty("overturned").GetInt32()));
    }

    [Fact]
    public async Task A_reviewers_strike_is_kept_for_the_workers_policy_window_when_longer()
    {
        var policy = Path.Combine(_stack.Dir.FullName, "policy.json");
        File.WriteAllText(policy, """{"version":"p.2","takedown":{"porn":0.9},"review":{"porn":0.6},"uploaders":{"strikes":{"window":"30d","review_at":3}}}""");
        var console = await _stack.StartConsoleAsync(new() { ["Screening:PolicyFile"] = policy });
        Assert.Equal(TimeSpan.FromDays(30), console.Verdicts.StrikeWindow());
        Assert.Equal(TimeSpan.FromDays(7), _console.Verdicts.StrikeWindow());
        File.WriteAllText(policy, "{not a policy");
        Assert.Equal(TimeSpan.FromDays(7), console.Verdicts.StrikeWindow());
    }

    [Fact]
    public async Task An_allow_verdict_is_published_on_the_allow_topic_and_counts_as_an_overturn()
    {
        _stack.QueueForReview("c-ok", _stack.WriteMedia("ok.jpg", SampleImages.Jpeg(7)));
        await ReviewStack.WaitQueuedAsync(_console.Store, 1);
        using var bob = _console.Bob;
        await bob.PostAsync("/api/items/c-ok/claim", null, Ct);
        Assert.Equal(HttpStatusCode.OK, (await bob.PostAsync("/api/items/c-ok/verdict", Body(new { verdict = "allow", bank = (string?)null }), Ct)).StatusCode);
        var final = DecisionEvent.FromUtf8Json(Assert.Single(_stack.ReadAll(Topics.Allow)).Value);
        Assert.Equal((Actions.Allow, "bob"), (final.Action, final.Reasons[0].Reviewer));
        var v = JsonDocument.Parse(Assert.Single(_stack.ReadAll(Topics.Reviews)).Value).RootElement;
        Assert.Equal(JsonValueKind.Null, v.GetProperty("banked").ValueKind);
        Assert.Empty(_stack.ReadAll(Topics.Takedown));
        var row = (await Json(await bob.GetAsync("/api/overturns", Ct))).EnumerateArray().Single(r => r.GetProperty("class").GetString() == "model:porn");
        Assert.Equal((1, 1), (row.GetProperty("reviewed").GetInt32(), row.GetProperty("overturned").GetInt32()));
    }

    [Fact]
    public async Task Media_is_served_through_the_safe_reader_with_its_sniffed_type_only()
    {
        var jpeg = SampleImages.Jpeg(8);
        _stack.QueueForReview("c-media", _stack.WriteMedia("m.jpg", jpeg));
        _stack.QueueForReview("c-text", text: "buy followers at scam.example");
        _stack.QueueForReview("c-outside", "file:///etc/hostname");
        File.WriteAllText(Path.Combine(_stack.Dir.FullName, "page.jpg"), "<html><script>alert(1)</script></html>");
        _stack.QueueForReview("c-html", _stack.WriteMedia("page.jpg", Encoding.UTF8.GetBytes("<html><script>alert(1)</script></html>")));
        await ReviewStack.WaitQueuedAsync(_console.Store, 4);
        using var alice = _console.Alice;
        var r = await alice.GetAsync("/api/items/c-media/media", Ct);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("image/jpeg", r.Content.Headers.ContentType!.MediaType);
        Assert.Equal(jpeg, await r.Content.ReadAsByteArrayAsync(Ct));
        Assert.Contains("sandbox", r.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Equal("nosniff", r.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal(HttpStatusCode.NotFound, (await alice.GetAsync("/api/items/c-text/media", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await alice.GetAsync("/api/items/c-none/media", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await alice.GetAsync("/api/items/c-outside/media", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await alice.GetAsync("/api/items/c-html/media", Ct)).StatusCode);
    }

    [Fact]
    public async Task Records_that_are_not_review_decisions_go_to_the_DLQ_and_the_rest_are_queued()
    {
        _stack.Publish(Topics.Review, "x", Encoding.UTF8.GetBytes("{not json"));
        _stack.Publish(Topics.Review, "y", Encoding.UTF8.GetBytes("""{"content_id":"bad id!","action":"review","reasons":[],"policy_version":"p","decided_at":"2026-01-01T00:00:00Z"}"""));
        _stack.Publish(Topics.Review, "z", Encoding.UTF8.GetBytes("""{"content_id":"c-z","action":"allow","reasons":[],"policy_version":"p","decided_at":"2026-01-01T00:00:00Z"}"""));
        _stack.QueueForReview("c-after", _stack.WriteMedia("after.jpg", SampleImages.Jpeg(9)));
        await ReviewStack.WaitQueuedAsync(_console.Store, 1);
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        List<ReviewStack.Record> dlq;
        while ((dlq = _stack.ReadAll(Topics.Dlq)).Count < 3 && DateTime.UtcNow < end) await Task.Delay(200, Ct);
        Assert.Equal(3, dlq.Count);
        Assert.All(dlq, d => Assert.Equal("invalid-event", Encoding.UTF8.GetString(d.Headers.GetLastBytes(DlqHeaders.ErrorCode))));
        using var alice = _console.Alice;
        Assert.Equal("c-after", (await Json(await alice.GetAsync("/api/queue", Ct)))[0].GetProperty("content_id").GetString());
    }

    [Fact]
    public async Task A_redelivered_decision_is_queued_once_and_a_judged_one_never_again()
    {
        var d = _stack.QueueForReview("c-dup", _stack.WriteMedia("d.jpg", SampleImages.Jpeg(10)));
        _stack.Publish(Topics.Review, "c-dup", d.ToUtf8Json());
        _stack.QueueForReview("c-marker", _stack.WriteMedia("mk.jpg", SampleImages.Jpeg(11)));
        await ReviewStack.WaitQueuedAsync(_console.Store, 2);
        using var alice = _console.Alice;
        Assert.Equal(2, (await Json(await alice.GetAsync("/api/queue", Ct))).GetArrayLength());
        await alice.PostAsync("/api/items/c-dup/claim", null, Ct);
        Assert.Equal(HttpStatusCode.OK, (await alice.PostAsync("/api/items/c-dup/verdict", Body(new { verdict = "allow" }), Ct)).StatusCode);
        _stack.Publish(Topics.Review, "c-dup", d.ToUtf8Json());
        _stack.QueueForReview("c-marker2", _stack.WriteMedia("mk2.jpg", SampleImages.Jpeg(12)));
        await ReviewStack.WaitQueuedAsync(_console.Store, 2);
        var ids = (await Json(await alice.GetAsync("/api/queue", Ct))).EnumerateArray().Select(i => i.GetProperty("content_id").GetString()).ToList();
        Assert.Equal(["c-marker", "c-marker2"], ids.Order().ToList());
    }

    [Fact]
    public async Task Telemetry_is_on_its_own_port_and_pages_carry_the_security_headers()
    {
        using var plain = new HttpClient { BaseAddress = _console.Telemetry };
        Assert.Equal(HttpStatusCode.OK, (await plain.GetAsync("/healthz", Ct)).StatusCode);
        var metrics = await plain.GetStringAsync("/metrics", Ct);
        Assert.Contains("moderation_review_queue_depth", metrics);
        Assert.Equal(HttpStatusCode.NotFound, (await plain.GetAsync("/api/queue", Ct)).StatusCode);
        using var alice = _console.Alice;
        Assert.Equal(HttpStatusCode.NotFound, (await alice.GetAsync("/metrics", Ct)).StatusCode);
        var login = await _console.Client().GetAsync("/login", Ct);
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        var csp = login.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("script-src 'self'", csp);
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.DoesNotContain("unsafe-inline", csp);
        Assert.Equal("DENY", login.Headers.GetValues("X-Frame-Options").Single());
    }
}
