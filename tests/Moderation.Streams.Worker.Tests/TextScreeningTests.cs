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

    private static async Task ImportAsync(EmbeddedStack stack, string bank, string kind, string csv, float? threshold = null)
    {
        // The test's own writes (not the worker's): as the other tests that set a bank up on a busy machine, long timeouts
        // (a meaning bank's import waited over 1 s for Garnet once while the worker embedded texts on both cores).
        await using var redis = await RedisConnector.ConnectAsync(stack.Redis.Configuration + ",syncTimeout=15000,asyncTimeout=15000");
        await new RedisTextBankStore(redis).ImportAsync(bank, kind, new StringReader(csv), threshold: threshold);
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

    [Fact]
    public async Task A_meaning_bank_imported_while_the_worker_runs_reaches_it_and_matches_paraphrases_by_similarity()
    {
        await using var stack = new EmbeddedStack();
        await ImportAsync(stack, "scams", TextBankKinds.Terms, "pattern,category,id\nfree crypto,scam,t-1\n");
        var policy = Path.Combine(stack.MediaRoot.FullName, "policy.json");
        File.WriteAllText(policy, """{"version":"text-2","takedown":{"porn":0.9},"review":{"porn":0.6},"text":{"harassment":"takedown","*":"review"}}""");
        using var host = stack.StartWorker(new() { ["Screening:PolicyFile"] = policy });
        const string insult = "you're worthless, everyone would be happier if you were gone";
        stack.Produce([("c0", Event($$"""{"content_id":"c0","media_type":"text","text":"{{insult}}"}"""))]);
        Assert.Equal(Actions.Allow, Assert.Single(stack.ReadOutcomes(1, settle: TimeSpan.Zero)).Decision.Action); // no meaning bank yet

        await ImportAsync(stack, "known-abuse", TextBankKinds.Texts,
            "text,category,id\nYou are worthless and everyone would be happier if you disappeared,harassment,a-1\n", threshold: 0.7f);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90); // the worker loads the sentence model with the first texts bank
        DecisionEvent? later = null;
        int attempt = 0;
        for (; later?.Reasons.FirstOrDefault()?.Source != "text"; attempt++)
        {
            Assert.True(DateTime.UtcNow < deadline, "the meaning bank never reached the running worker");
            var key = $"again-{attempt}";
            stack.Produce([(key, Event($$"""{"content_id":"{{key}}","media_type":"text","text":"{{insult}}"}"""))]);
            later = stack.ReadOutcomes(2 + attempt, settle: TimeSpan.Zero).Single(r => r.Key == key).Decision;
        }
        Assert.Equal(Actions.Takedown, later.Action);
        var reason = Assert.Single(later.Reasons);
        Assert.Equal(("text", "text", "known-abuse", "a-1", "harassment"), (reason.Field, reason.Kind, reason.Bank, reason.Id, reason.Category));
        Assert.InRange(reason.Similarity!.Value, 0.7f, 1f);
        Assert.Null(reason.Start); // a meaning match has a similarity instead of a span
        Assert.Null(reason.End);

        // An unrelated caption on a picture stays allowed; the picture is still screened.
        var picture = stack.WriteImage("calm.png", SampleImages.Png(7102));
        stack.Produce([("calm", Event($$"""{"content_id":"calm","media_type":"image","media":{"url":"{{picture}}"},"caption":"sunset over the lake with my dog"}"""))]);
        var calm = stack.ReadOutcomes(2 + attempt, settle: TimeSpan.Zero).Single(r => r.Key == "calm").Decision;
        Assert.Equal(Actions.Allow, calm.Action);
        Assert.DoesNotContain(calm.Reasons, r => r.Source == "text");
        await host.StopAsync(Ct);
    }
}
