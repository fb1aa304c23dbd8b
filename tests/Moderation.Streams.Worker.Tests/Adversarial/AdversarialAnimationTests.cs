using Moderation.Streams.Contracts;
using Moderation.Streams.Media;

namespace Moderation.Streams.Worker.Tests.Adversarial;

/// <summary>Adversarial animated images: a banked picture in a later frame of a GIF, WebP or APNG, or in the animation of
/// an APNG whose default image is innocent, is taken down by the bank; an animation past the decode limits is never allowed.</summary>
public sealed class AdversarialAnimationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_banked_picture_in_a_later_frame_or_in_an_apng_animation_behind_an_innocent_default_image_is_taken_down_by_the_bank()
    {
        using var media = new AdversarialMedia();
        await using var stack = new EmbeddedStack();
        var banked = SampleImages.Png(7700, AdversarialMedia.Width, AdversarialMedia.Height);
        var innocent = SampleImages.Png(7701, AdversarialMedia.Width, AdversarialMedia.Height);
        var other = SampleImages.Png(7702, AdversarialMedia.Width, AdversarialMedia.Height);
        string bankedPath = media.Still("banked.png", banked), innocentPath = media.Still("innocent.png", innocent), otherPath = media.Still("other.png", other);
        await AdversarialVideoTests.BankAsync(stack, "pic-77", banked);
        var evasions = new (string Key, string Name, byte[] Bytes)[]
        {
            ("gif-third-frame", "a.gif", media.Gif(innocentPath, otherPath, bankedPath)),
            ("webp-second-frame", "a.webp", media.AnimatedWebp(innocentPath, bankedPath)),
            ("apng-second-frame", "a.png", AdversarialMedia.Apng(innocent, defaultIsFrame: true, banked)),
            ("apng-behind-innocent-default", "hidden.png", AdversarialMedia.Apng(innocent, defaultIsFrame: false, banked)),
            ("apng-banked-default-only", "default.png", AdversarialMedia.Apng(banked, defaultIsFrame: false, innocent, other)),
        };

        using var host = stack.StartWorker();
        stack.Produce(evasions.Select(e => (e.Key, EmbeddedStack.Upload(e.Key, stack.WriteImage(e.Name, e.Bytes)))));
        var records = stack.ReadOutcomes(evasions.Length, settle: TimeSpan.Zero);

        // Every evasion is reported at once: which of them got through, and how.
        var missed = evasions.Select(e => Assert.Single(records, r => r.Key == e.Key).Decision).Where(d => d.Action != Actions.Takedown)
            .Select(d => $"{d.ContentId}: {d.Action} ({string.Join("; ", d.Reasons.Select(r => $"{r.Source} {r.Code} {r.Message}"))})").ToList();
        Assert.True(missed.Count == 0, string.Join("\n", missed));
        foreach (var (key, _, _) in evasions)
        {
            var decision = Assert.Single(records, r => r.Key == key).Decision;
            var reason = decision.Reasons[0];
            Assert.Equal((key, "bank", "known-bad", "pic-77"), (key, reason.Source, reason.Bank, reason.MatchId));
            Assert.DoesNotContain(decision.Reasons, r => r.Code == PartialScreening.Code);
        }
        // The match names the one frame of three that shows the picture (by its display time).
        var gif = Assert.Single(records, r => r.Key == "gif-third-frame").Decision.Reasons[0];
        Assert.Equal(3, gif.FramesSampled);
        Assert.True(Assert.Single(gif.FrameTimestampsMs!) > 0);
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task A_match_to_a_bank_whose_policy_rule_is_review_sends_an_animation_to_review_with_the_bank_reason_first()
    {
        // As for stills: a review bank's match is not a takedown on its own; the model still runs and the more severe wins.
        using var media = new AdversarialMedia();
        await using var stack = new EmbeddedStack();
        var banked = SampleImages.Png(7730, AdversarialMedia.Width, AdversarialMedia.Height);
        var innocent = SampleImages.Png(7731, AdversarialMedia.Width, AdversarialMedia.Height);
        await AdversarialVideoTests.BankAsync(stack, "pic-borderline", banked);
        var policy = Path.Combine(stack.MediaRoot.FullName, "policy.json");
        File.WriteAllText(policy, """{"version":"review-bank","banks":{"known-bad":"review"}}""");
        var gif = media.Gif(media.Still("innocent.png", innocent), media.Still("banked.png", banked));

        using var host = stack.StartWorker(new() { ["Screening:PolicyFile"] = policy });
        stack.Produce([("first", EmbeddedStack.Upload("first", stack.WriteImage("a.gif", gif))),
                       ("again", EmbeddedStack.Upload("again", stack.WriteImage("b.gif", gif)))]);
        var records = stack.ReadOutcomes(2, settle: TimeSpan.Zero);

        foreach (var key in new[] { "first", "again" })
        {
            var decision = Assert.Single(records, r => r.Key == key).Decision;
            Assert.NotEqual(Actions.Allow, decision.Action);
            Assert.Equal(("bank", "known-bad", "pic-borderline"), (decision.Reasons[0].Source, decision.Reasons[0].Bank, decision.Reasons[0].MatchId));
            Assert.NotNull(decision.Scores); // the model ran
            Assert.False(decision.Cached); // review-bank decisions are not cached
        }
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task An_animation_with_more_frames_than_the_decode_limit_goes_to_review_as_partially_screened_and_a_still_keeps_its_path()
    {
        using var media = new AdversarialMedia();
        await using var stack = new EmbeddedStack();
        var stills = Enumerable.Range(0, 5).Select(i => media.Still($"f{i}.png", SampleImages.Png(7710 + i, 160, 120))).ToArray();
        var gif = media.Gif(stills);
        var still = SampleImages.Png(7720);

        using var host = stack.StartWorker(new() { ["Media:Decode:MaxFramesDecoded"] = "3" });
        stack.Produce([("long-gif", EmbeddedStack.Upload("long-gif", stack.WriteImage("long.gif", gif))),
                       ("still", EmbeddedStack.Upload("still", stack.WriteImage("still.png", still)))]);
        var records = stack.ReadOutcomes(2, settle: TimeSpan.Zero);

        var decision = Assert.Single(records, r => r.Key == "long-gif").Decision;
        Assert.NotEqual(Actions.Allow, decision.Action);
        var partial = Assert.Single(decision.Reasons, r => r.Code == PartialScreening.Code);
        Assert.Equal(("fail-closed", "5 frames, only the first 3 decoded (limits: 3 frames, 400000000 pixels)"), (partial.Source, partial.Message));
        // A still PNG is decided as before: one image, its own scores, no frame lists.
        var stillDecision = Assert.Single(records, r => r.Key == "still").Decision;
        Assert.All(stillDecision.Reasons, r => Assert.Null(r.FramesSampled));
        Assert.Equal(5, stillDecision.Scores!.Count);
        await host.StopAsync(Ct);
    }
}
