using System.Text;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.TextBanks;

namespace Moderation.Streams.Worker.Tests;

/// <summary>Strikes and campaigns through running workers: the counters live in Redis, so a worker sees what another
/// counted; they raise the content's decision and never reach the decision cache.</summary>
public sealed class UploaderSignalsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static byte[] Event(string json) => Encoding.UTF8.GetBytes(json);

    private const string Policy = """
        {"version":"uploaders-1","takedown":{"porn":0.9},"review":{"porn":0.6},"text":{"phishing":"takedown","*":"review"},
         "uploaders":{"strikes":{"window":"7d","review_at":2},"velocity":{"window":"1m","review_at":1000},
                      "campaigns":{"window":"1h","distinct_uploaders":3,"action":"review"}}}
        """;

    private static string Image(string id, string uploader, string url) =>
        $$$"""{"content_id":"{{{id}}}","uploader_id":"{{{uploader}}}","media_type":"image","media":{"url":"{{{url}}}"}}""";

    private static string Text(string id, string uploader, string text) =>
        $$"""{"content_id":"{{id}}","uploader_id":"{{uploader}}","media_type":"text","text":"{{text}}"}""";

    [Fact]
    public async Task Strikes_and_a_campaign_counted_by_one_worker_raise_the_next_workers_decisions_and_stay_out_of_the_cache()
    {
        await using var stack = new EmbeddedStack();
        await using (var redis = await RedisConnector.ConnectAsync(stack.Redis.Configuration))
            await new RedisTextBankStore(redis).ImportAsync("bad-links", TextBankKinds.Domains, new StringReader("domain,category,id\nbad.example,phishing,d-1\n"));
        var policy = Path.Combine(stack.MediaRoot.FullName, "policy.json");
        File.WriteAllText(policy, Policy);
        var picture = stack.WriteImage("meme.png", SampleImages.Png(7301));
        var settings = new Dictionary<string, string?> { ["Screening:PolicyFile"] = policy };

        // The first worker: two takedowns for u-bad (two strikes), and the same picture from u-1 and u-2.
        using (var first = stack.StartWorker(settings))
        {
            int n = 0;
            foreach (var (key, json) in new[]
            {
                ("phish-1", Text("phish-1", "u-bad", "see bad[.]example/login")),
                ("phish-2", Text("phish-2", "u-bad", "bad.example/prize")),
                ("meme-1", Image("meme-1", "u-1", picture)),
                ("meme-2", Image("meme-2", "u-2", picture)),
            })
            {
                // One at a time: each is counted before the next is screened.
                stack.Produce([(key, Event(json))]);
                Assert.Contains(stack.ReadOutcomes(++n, settle: TimeSpan.Zero), r => r.Key == key);
            }
            await first.StopAsync(Ct);
        }
        var before = stack.ReadOutcomes(4, settle: TimeSpan.Zero);
        foreach (var (key, action) in new[] { ("phish-1", Actions.Takedown), ("phish-2", Actions.Takedown), ("meme-1", Actions.Allow), ("meme-2", Actions.Allow) })
            Assert.Equal(action, Assert.Single(before, r => r.Key == key).Decision.Action);
        Assert.DoesNotContain(before, r => r.Decision.Reasons.Any(x => x.Source is "uploader" or "campaign"));

        // Another worker process would share nothing but Redis: so does this one.
        using var second = stack.StartWorker(settings);
        int seen = 4;
        DecisionEvent Screen(string key, string json)
        {
            stack.Produce([(key, Event(json))]);
            return stack.ReadOutcomes(++seen, settle: TimeSpan.Zero).Last(r => r.Key == key).Decision; // a key's records keep their order
        }

        var clean = Screen("hello", Text("hello", "u-bad", "nice photo!"));
        Assert.Equal(Actions.Review, clean.Action);
        var strikes = Assert.Single(clean.Reasons);
        Assert.Equal(("uploader", "strikes", 2, "7d"), (strikes.Source, strikes.Rule!, strikes.Count!.Value, strikes.Window!));
        Assert.Equal(Actions.Allow, Screen("hi", Text("hi", "u-good", "nice photo!")).Action);

        // A redelivered takedown is not a third strike.
        Assert.Equal(Actions.Takedown, Screen("phish-2", Text("phish-2", "u-bad", "bad.example/prize")).Action);
        Assert.Equal(2, Screen("hello-2", Text("hello-2", "u-bad", "hello again")).Reasons.Single(r => r.Rule == "strikes").Count);

        // The third uploader of the same picture: a campaign, caught on the cached decision of the picture.
        var third = Screen("meme-3", Image("meme-3", "u-3", picture));
        Assert.Equal(Actions.Review, third.Action);
        Assert.True(third.Cached);
        var campaign = Assert.Single(third.Reasons, r => r.Source == "campaign");
        Assert.Equal((3, "1h"), (campaign.Uploaders!.Value, campaign.Window!));
        // The cache kept what the picture earned alone: had it stored the campaign's review, the next upload would carry
        // that reason twice (once from the cache, once counted anew).
        var again = Screen("meme-4", Image("meme-4", "u-1", picture));
        Assert.Equal(1, again.Reasons.Count(r => r.Source == "campaign"));
        Assert.Equal(Actions.Review, again.Action);
        await second.StopAsync(Ct);
    }
}
