using System.Text;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.TextBanks;

namespace Moderation.Streams.Worker.Tests;

/// <summary>Captions and text items through a running worker, with term and domain banks imported into Redis.</summary>
public sealed class TextScreeningTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static byte[] Event(string json) => Encoding.UTF8.GetBytes(json);

    private static async Task ImportAsync(EmbeddedStack stack, string bank, string kind, string csv)
    {
        await using var redis = await RedisConnector.ConnectAsync(stack.Redis.Configuration);
        await new RedisTextBankStore(redis).ImportAsync(bank, kind, new StringReader(csv));
    }

    [Fact]
    public async Task Captions_and_text_items_are_screened_by_the_text_banks_and_a_match_never_lowers_the_picture()
    {
        await using var stack = new EmbeddedStack();
        await ImportAsync(stack, "scams", TextBankKinds.Terms, "pattern,category,id\nfree crypto,scam,t-1\n");
        await ImportAsync(stack, "bad-links", TextBankKinds.Domains, "domain,category,id\nbad.example,phishing,d-1\n");
        var policy = Path.Combine(stack.MediaRoot.FullName, "policy.json");
        File.WriteAllText(policy, """{"version":"text-1","takedown":{"porn":0.9},"review":{"porn":0.6},"text":{"phishing":"takedown","*":"review"}}""");
        var picture = stack.WriteImage("calm.png", SampleImages.Png(7101));
        using var host = stack.StartWorker(new() { ["Screening:PolicyFile"] = policy });

        stack.Produce([
            ("plain", Event($$"""{"content_id":"plain","media_type":"image","media":{"url":"{{picture}}"},"caption":"a calm lake"}""")),
            // Obfuscated: fullwidth letters split by a zero-width space, and a word split by dots.
            ("scam", Event($$"""{"content_id":"scam","media_type":"image","media":{"url":"{{picture}}"},"caption":"get ｆｒ\u200Bｅｅ c.r.y.p.t.o now"}""")),
            ("link", Event("""{"content_id":"link","media_type":"text","text":"see hxxps://login.bad[.]example/x"}""")),
            ("hello", Event("""{"content_id":"hello","media_type":"text","text":"nice photo!"}""")),
        ]);
        var records = stack.ReadOutcomes(4);
        DecisionEvent Of(string key) => Assert.Single(records, r => r.Key == key).Decision;

        Assert.Equal(Actions.Allow, Of("plain").Action);
        var scam = Of("scam");
        Assert.Equal(Actions.Review, scam.Action);
        var reason = Assert.Single(scam.Reasons, r => r.Source == "text");
        Assert.Equal(("caption", "term", "scams", "t-1", "scam"), (reason.Field, reason.Kind, reason.Bank, reason.Id, reason.Category));
        Assert.Equal("ｆｒ\u200Bｅｅ c.r.y.p.t.o", "get ｆｒ\u200Bｅｅ c.r.y.p.t.o now"[reason.Start!.Value..reason.End!.Value]);
        Assert.NotNull(scam.Scores); // the picture was screened too

        var link = Of("link");
        Assert.Equal(Actions.Takedown, link.Action);
        Assert.Equal(("text", "domain", "bad-links", "phishing"), (link.Reasons[0].Field, link.Reasons[0].Kind, link.Reasons[0].Bank, link.Reasons[0].Category));
        Assert.Null(link.ModelVersion); // no media, no model
        Assert.Equal(Actions.Allow, Of("hello").Action);
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task A_text_item_with_no_text_banks_to_screen_it_goes_to_review_and_a_term_imported_later_reaches_the_running_worker()
    {
        await using var stack = new EmbeddedStack();
        using var host = stack.StartWorker();
        stack.Produce([("c1", Event("""{"content_id":"c1","media_type":"text","text":"buy oxy here"}"""))]);
        var first = Assert.Single(stack.ReadOutcomes(1, settle: TimeSpan.Zero)).Decision;
        Assert.Equal((Actions.Review, Decider.NotScreenedCode), (first.Action, Assert.Single(first.Reasons).Code));

        await ImportAsync(stack, "drugs", TextBankKinds.Terms, "oxy,drugs,t-9\n");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        DecisionEvent? later = null;
        for (int attempt = 0; later?.Reasons.FirstOrDefault()?.Source != "text"; attempt++)
        {
            Assert.True(DateTime.UtcNow < deadline, "the import never reached the running worker");
            var key = $"again-{attempt}";
            stack.Produce([(key, Event($$"""{"content_id":"{{key}}","media_type":"text","text":"buy oxy here"}"""))]);
            later = stack.ReadOutcomes(2 + attempt, settle: TimeSpan.Zero).Single(r => r.Key == key).Decision;
        }
        Assert.Equal((Actions.Review, "t-9", 4, 7), (later.Action, later.Reasons[0].Id, later.Reasons[0].Start, later.Reasons[0].End));
        await host.StopAsync(Ct);
    }
}
