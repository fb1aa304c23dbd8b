using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Media;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;
using SkiaSharp;

namespace Moderation.Streams.Worker.Tests;

/// <summary>Known content comes down from the banks, without inference; banks changed while the worker runs
/// are used within seconds; without Redis nothing is allowed on the model alone.</summary>
public sealed class BankMatchingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly DateTimeOffset BankedAt = new(2026, 11, 3, 8, 15, 30, 250, TimeSpan.Zero);

    private static (string Hash, int Quality) PdqOf(byte[] encoded)
    {
        var image = ImageDecoder.Decode(encoded);
        var r = new PdqHasher().Hash(image.Pixels, image.Width, image.Height, image.Channels);
        return (r.Hash.ToString(), r.Quality);
    }

    private static async Task ImportAsync(EmbeddedStack stack, string bank, string id, byte[] original)
    {
        await using var redis = await RedisConnector.ConnectAsync(stack.Redis.Configuration);
        var (hash, quality) = PdqOf(original);
        var (entries, errors) = BankCsv.Read(new StringReader($"{hash},{quality},{id},known"), bank, "test", BankedAt);
        Assert.Empty(errors);
        await new RedisBankStore(redis).ImportAsync(bank, entries);
    }

    [Fact]
    public async Task A_near_duplicate_of_a_banked_image_is_taken_down_with_the_bank_reason_and_a_later_import_reaches_the_running_worker()
    {
        await using var stack = new EmbeddedStack();
        var first = SampleImages.Render(6101, 640, 480);
        var second = SampleImages.Render(6102, 640, 480);
        await ImportAsync(stack, "known-bad", "h-77", SampleImages.Encode(first));
        using var host = stack.StartWorker();

        // A re-encoded, resized copy of the banked picture, and the second picture (not banked yet).
        var nearCopy = SampleImages.Encode(first.Resize(new SKImageInfo(480, 360, SKColorType.Rgba8888, SKAlphaType.Opaque), new SKSamplingOptions(SKFilterMode.Linear)), SKEncodedImageFormat.Jpeg, 75);
        stack.Produce([("copy", EmbeddedStack.Upload("copy", stack.WriteImage("copy.jpg", nearCopy))),
                       ("other", EmbeddedStack.Upload("other", stack.WriteImage("other.png", SampleImages.Encode(second))))]);
        var records = stack.ReadOutcomes(2, settle: TimeSpan.Zero);

        var copy = Assert.Single(records, r => r.Key == "copy").Decision;
        Assert.Equal(Actions.Takedown, copy.Action);
        var reason = Assert.Single(copy.Reasons);
        Assert.Equal(("bank", "known-bad", "h-77"), (reason.Source, reason.Bank, reason.MatchId));
        Assert.InRange(reason.Distance!.Value, 0, 31);
        Assert.Equal(("known", "test", BankedAt), (reason.EntryLabel, reason.EntrySource, reason.AddedAt!.Value)); // provenance
        Assert.Null(copy.Scores); // no inference
        Assert.DoesNotContain(Assert.Single(records, r => r.Key == "other").Decision.Reasons, r => r.Source == "bank");

        // The second picture is banked while the worker runs: its next upload comes down too.
        await ImportAsync(stack, "known-bad", "h-78", SampleImages.Encode(second));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        DecisionEvent? later = null;
        for (int attempt = 0; later?.Action != Actions.Takedown; attempt++)
        {
            Assert.True(DateTime.UtcNow < deadline, "the import never reached the running worker");
            var key = $"again-{attempt}";
            stack.Produce([(key, EmbeddedStack.Upload(key, stack.WriteImage($"{key}.png", SampleImages.Encode(second))))]);
            later = stack.ReadOutcomes(3 + attempt, settle: TimeSpan.Zero).Single(r => r.Key == key).Decision;
        }
        Assert.Equal("h-78", Assert.Single(later.Reasons).MatchId);
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task Without_redis_uploads_are_screened_by_the_model_and_never_allowed_on_it_alone()
    {
        await using var stack = new EmbeddedStack();
        var urls = Enumerable.Range(0, 6).Select(i => stack.WriteImage($"p{i}.png", SampleImages.Png(6200 + i))).ToList();
        // Nothing listens on port 1: neither the cache nor the banks can answer.
        using var host = stack.StartWorker(new() { ["Redis:Configuration"] = "127.0.0.1:1,connectTimeout=200" });
        stack.Produce(urls.Select((u, i) => ($"p{i}", EmbeddedStack.Upload($"p{i}", u))));
        var records = stack.ReadOutcomes(urls.Count);

        Assert.Equal(urls.Count, records.Count);
        foreach (var decision in records.Select(r => r.Decision))
        {
            Assert.Equal(5, decision.Scores!.Count); // screened by the model
            Assert.NotEqual(Actions.Allow, decision.Action);
            var byModel = Policy.Default.ApplyThresholds("nsfw-mobilenet-v2", decision.Scores).Action;
            if (byModel == Actions.Allow)
                Assert.Contains(decision.Reasons, r => r is { Source: "fail-closed", Code: "banks-unavailable" });
            else
                Assert.Equal(byModel, decision.Action);
        }
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task A_suppress_bank_cancels_a_takedown_match_of_the_same_picture_and_a_banks_own_distance_narrows_it()
    {
        await using var stack = new EmbeddedStack();
        var meme = SampleImages.Encode(SampleImages.Render(6201, 640, 480));
        var other = SampleImages.Encode(SampleImages.Render(6202, 640, 480));
        await ImportAsync(stack, "known-bad", "h-1", meme); // a bad import: a popular meme
        await ImportAsync(stack, "benign", "meme-1", meme);
        await ImportAsync(stack, "partner-x", "p-1", other);
        // A resized, re-encoded copy a few bits away; partner-x accepts one bit less than that.
        var nearOther = SampleImages.Encode(SKBitmap.Decode(other).Resize(new SKImageInfo(480, 360, SKColorType.Rgba8888, SKAlphaType.Opaque),
            new SKSamplingOptions(SKFilterMode.Linear)), SKEncodedImageFormat.Jpeg, 70);
        int distance = PdqHash.Distance(PdqHash.Parse(PdqOf(other).Hash), PdqHash.Parse(PdqOf(nearOther).Hash));
        Assert.InRange(distance, 1, 31);
        var policy = Path.Combine(stack.MediaRoot.FullName, "policy.json");
        File.WriteAllText(policy, """{"version":"bank-rules-1","takedown":{"porn":0.9},"review":{"porn":0.6},"banks":{"benign":"suppress","""
            + $$"""
            "partner-x":{"action":"takedown","max_distance":{{distance - 1}}}
            """ + "}}");
        using var host = stack.StartWorker(new() { ["Screening:PolicyFile"] = policy });
        stack.Produce([("meme", EmbeddedStack.Upload("meme", stack.WriteImage("meme.png", meme))),
                       ("other", EmbeddedStack.Upload("other", stack.WriteImage("other.png", other))),
                       ("near-other", EmbeddedStack.Upload("near-other", stack.WriteImage("near-other.jpg", nearOther)))]);
        var records = stack.ReadOutcomes(3, settle: TimeSpan.Zero);
        DecisionEvent Of(string key) => Assert.Single(records, r => r.Key == key).Decision;

        var decided = Of("meme");
        Assert.Equal(Actions.Allow, decided.Action); // the model decided: a calm rendered picture
        var suppressed = Assert.Single(decided.Reasons);
        Assert.Equal(("bank", "benign", "meme-1", PolicyBankRule.Suppress), (suppressed.Source, suppressed.Bank, suppressed.MatchId, suppressed.Code));
        Assert.NotNull(decided.Scores);
        Assert.Equal((Actions.Takedown, "partner-x"), (Of("other").Action, Of("other").Reasons[0].Bank));
        var near = Of("near-other");
        Assert.Equal(Actions.Allow, near.Action); // beyond partner-x's own distance
        Assert.DoesNotContain(near.Reasons, r => r.Source == "bank");
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task A_bank_entry_that_floods_is_quarantined_to_review_and_a_release_gives_it_back_its_takedown()
    {
        await using var stack = new EmbeddedStack();
        var meme = SampleImages.Encode(SampleImages.Render(6301, 640, 480));
        await ImportAsync(stack, "known-bad", "h-meme", meme);
        var policy = Path.Combine(stack.MediaRoot.FullName, "policy.json");
        File.WriteAllText(policy, """{"version":"floods-1","takedown":{"porn":0.9},"review":{"porn":0.6},"bank_floods":{"window":"10m","max_uploads":2}}""");
        using var host = stack.StartWorker(new() { ["Screening:PolicyFile"] = policy });
        var url = stack.WriteImage("meme.png", meme);
        int seen = 0;
        DecisionEvent Screen(string key)
        {
            stack.Produce([(key, EmbeddedStack.Upload(key, url))]);
            return stack.ReadOutcomes(++seen, settle: TimeSpan.Zero).Single(r => r.Key == key).Decision;
        }

        Assert.Equal(Actions.Takedown, Screen("u-1").Action);
        Assert.Equal(Actions.Takedown, Screen("u-2").Action);
        var third = Screen("u-3");
        Assert.Equal(Actions.Review, third.Action);
        var reason = Assert.Single(third.Reasons, r => r.Source == "bank");
        Assert.Equal(("known-bad", "h-meme", Decider.QuarantinedCode), (reason.Bank, reason.MatchId, reason.Code));
        Assert.NotNull(third.Scores); // the model ran again: a quarantined match settles nothing

        await using (var redis = await RedisConnector.ConnectAsync(stack.Redis.Configuration))
            Assert.True(await new RedisBankFloods(redis).ReleaseAsync("known-bad", "h-meme"));
        Assert.Equal(Actions.Takedown, Screen("u-4").Action);
        await host.StopAsync(Ct);
    }
}
