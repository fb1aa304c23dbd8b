using Moderation.Streams.Contracts;
using Moderation.Streams.Media;

namespace Moderation.Streams.Review.Tests;

/// <summary>A reviewer's verdict on a picture the model alone sent to review stands in the workers' decision cache: an
/// exact re-upload gets it (marked cached) instead of going to review again; a verdict on a captioned upload does not
/// (the caption, not the picture, may have been the reason).</summary>
public sealed class VerdictCacheTests : IAsyncLifetime
{
    private readonly ReviewStack _stack = new();
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;
    public async ValueTask DisposeAsync() => await _stack.DisposeAsync();

    private async Task<DecisionEvent> DecisionOfAsync(string contentId)
    {
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (DateTime.UtcNow < end)
        {
            foreach (var topic in new[] { Topics.Takedown, Topics.Review, Topics.Allow })
                foreach (var r in _stack.ReadAll(topic))
                    if (DecisionEvent.FromUtf8Json(r.Value) is { } d && d.ContentId == contentId && r.VerdictId is null) return d;
            await Task.Delay(300, Ct);
        }
        throw new TimeoutException($"no worker decision for {contentId}");
    }

    [Fact]
    public async Task An_allow_verdict_on_a_model_flagged_picture_is_reused_for_its_exact_reupload_and_a_captioned_one_is_not()
    {
        var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(_stack.Redis.Configuration);
        await new Moderation.Streams.Redis.TextBanks.RedisTextBankStore(redis).ImportAsync("scam-terms", "terms", new StringReader("free followers,scam,t-1\n"));
        _stack.StartReviewingWorker();
        var console = await _stack.StartConsoleAsync();
        var plain = SampleImages.Jpeg(61, 300, 200);
        var captioned = SampleImages.Jpeg(62, 300, 200);
        _stack.Upload("c-plain", _stack.WriteMedia("plain.jpg", plain));
        _stack.Upload("c-captioned", _stack.WriteMedia("captioned.jpg", captioned), caption: "free followers here");
        Assert.Equal(Actions.Review, (await DecisionOfAsync("c-plain")).Action);
        Assert.Equal(Actions.Review, (await DecisionOfAsync("c-captioned")).Action);
        await ReviewStack.WaitQueuedAsync(console.Store, 2);
        foreach (var id in new[] { "c-plain", "c-captioned" })
        {
            Assert.True((await console.Verdicts.ClaimAsync(id, "bob")).IsOk);
            Assert.True((await console.Verdicts.VerdictAsync(id, "bob", new VerdictRequest("allow", null, "fine"), Ct)).IsOk);
        }

        _stack.Upload("c-plain-again", _stack.WriteMedia("plain2.jpg", plain));
        var again = await DecisionOfAsync("c-plain-again");
        Assert.Equal(Actions.Allow, again.Action);
        Assert.True(again.Cached);
        Assert.Equal(("review", "bob"), (again.Reasons.Single().Source, again.Reasons.Single().Reviewer));

        // The captioned picture's verdict is not the picture's: its re-upload (no caption) is decided as before.
        _stack.Upload("c-captioned-again", _stack.WriteMedia("captioned2.jpg", captioned));
        var other = await DecisionOfAsync("c-captioned-again");
        Assert.Equal(Actions.Review, other.Action);
        Assert.DoesNotContain(other.Reasons, r => r.Source == "review");
    }
}
