using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Media;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;

namespace Moderation.Streams.Worker.Tests.Adversarial;

/// <summary>Adversarial videos: a banked picture put where a viewer sees it but a budget-bound sampler does not look
/// is still taken down by the bank, and what the samples cannot cover is never allowed.</summary>
public sealed class AdversarialVideoTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Banks <paramref name="png"/>'s PDQ hash (the full-size still's) as <paramref name="id"/> in <c>known-bad</c>.</summary>
    internal static async Task BankAsync(EmbeddedStack stack, string id, byte[] png)
    {
        var image = ImageDecoder.Decode(png);
        var pdq = new PdqHasher().Hash(image.Pixels, image.Width, image.Height, image.Channels);
        var (entries, errors) = BankCsv.Read(new StringReader($"{pdq.Hash},{pdq.Quality},{id}"), "known-bad", "test", DateTimeOffset.UtcNow);
        Assert.Empty(errors);
        await using var redis = await RedisConnector.ConnectAsync(stack.Redis.Configuration);
        await new RedisBankStore(redis).ImportAsync("known-bad", entries);
    }

    [Fact]
    public async Task A_banked_picture_at_second_65_after_a_strobe_or_in_a_default_second_track_is_taken_down_by_the_bank()
    {
        using var media = new AdversarialMedia();
        await using var stack = new EmbeddedStack();
        var banked = SampleImages.Png(7700, AdversarialMedia.Width, AdversarialMedia.Height);
        var picture = media.Still("banked.png", banked);
        await BankAsync(stack, "pic-77", banked);
        var evasions = new (string Key, byte[] Video)[]
        {
            ("second-65-of-70", media.LateReveal(picture)),
            ("after-strobe", media.AfterStrobe(picture)),
            ("default-second-track", media.SecondTrack(picture)),
        };

        using var host = stack.StartWorker();
        stack.Produce(evasions.Select(e => (e.Key, EmbeddedStack.Upload(e.Key, stack.WriteImage(e.Key + ".mp4", e.Video), MediaTypes.Video))));
        var records = stack.ReadOutcomes(evasions.Length, settle: TimeSpan.Zero);

        // Every evasion is reported at once: which of them got through, and how.
        var missed = evasions.Select(e => Assert.Single(records, r => r.Key == e.Key).Decision).Where(d => d.Action != Actions.Takedown)
            .Select(d => $"{d.ContentId}: {d.Action} ({string.Join("; ", d.Reasons.Select(r => $"{r.Source} {r.Code} {r.Message}"))})").ToList();
        Assert.True(missed.Count == 0, string.Join("\n", missed));
        foreach (var (key, _) in evasions)
        {
            var decision = Assert.Single(records, r => r.Key == key).Decision;
            var reason = decision.Reasons[0];
            Assert.Equal((key, "bank", "known-bad", "pic-77"), (key, reason.Source, reason.Bank, reason.MatchId));
            Assert.DoesNotContain(decision.Reasons, r => r.Code == PartialScreening.Code);
        }
        // The late picture is seen where it is shown: the samples reach the end of the video.
        var late = Assert.Single(records, r => r.Key == "second-65-of-70").Decision.Reasons[0];
        Assert.All(late.FrameTimestampsMs!, t => Assert.InRange(t, 65_000, 70_000));
        Assert.Equal(70, late.FramesSampled);
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task A_video_longer_than_the_frame_budget_covers_or_one_cut_short_goes_to_review_as_partially_screened()
    {
        using var media = new AdversarialMedia();
        await using var stack = new EmbeddedStack();
        // 10 uniform samples at most 2 s apart cover 20 s: a 30 s video is sampled every 3 s, only in part.
        var tooLong = media.Footage("long.mp4", 30);
        // The index first and the media data cut at 60%: the last seconds cannot be decoded.
        var whole = media.Footage("whole.mp4", 5, "-movflags", "+faststart");
        var cut = whole[..(whole.Length * 6 / 10)];
        var fine = media.Footage("fine.mp4", 5);

        using var host = stack.StartWorker(new()
        {
            ["Media:Video:MaxFrames"] = "10",
            ["Media:Video:MaxSampleGap"] = "00:00:02",
        });
        stack.Produce([("too-long", EmbeddedStack.Upload("too-long", stack.WriteImage("long.mp4", tooLong), MediaTypes.Video)),
                       ("cut-short", EmbeddedStack.Upload("cut-short", stack.WriteImage("cut.mp4", cut), MediaTypes.Video)),
                       ("fine", EmbeddedStack.Upload("fine", stack.WriteImage("fine.mp4", fine), MediaTypes.Video))]);
        var records = stack.ReadOutcomes(3, settle: TimeSpan.Zero);

        foreach (var key in new[] { "too-long", "cut-short" })
        {
            var decision = Assert.Single(records, r => r.Key == key).Decision;
            Assert.NotEqual(Actions.Allow, decision.Action);
            var partial = Assert.Single(decision.Reasons, r => r.Code == PartialScreening.Code);
            Assert.Equal("fail-closed", partial.Source);
            Assert.False(string.IsNullOrWhiteSpace(partial.Message));
        }
        Assert.Contains("every 3 s", Assert.Single(records, r => r.Key == "too-long").Decision.Reasons.Single(r => r.Code == PartialScreening.Code).Message);
        Assert.DoesNotContain(Assert.Single(records, r => r.Key == "fine").Decision.Reasons, r => r.Code == PartialScreening.Code);
        await host.StopAsync(Ct);
    }
}
