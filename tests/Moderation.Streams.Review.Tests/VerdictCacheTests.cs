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

/// <summary>Media without a PDQ hash (it could not be decoded) is banked by the SHA-256 of its bytes, which a worker
/// matches before decoding: the same file uploaded again comes down without a reviewer.</summary>
public sealed class DigestBankingTests : IAsyncLifetime
{
    private readonly ReviewStack _stack = new();
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;
    public async ValueTask DisposeAsync() => await _stack.DisposeAsync();

    [Fact]
    public async Task A_takedown_into_a_bank_of_undecodable_media_banks_its_digest_and_the_worker_takes_the_same_file_down()
    {
        var console = await _stack.StartConsoleAsync();
        var blob = System.Text.Encoding.ASCII.GetBytes("GIF89a this is not really a picture " + new string('x', 200));
        _stack.QueueForReview("c-blob", _stack.WriteMedia("blob.gif", blob), reasons: [new DecisionReason { Source = "fail-closed", Code = ErrorCodes.UndecodableMedia }]);
        _stack.QueueForReview("c-words", text: "only words here", reasons: [new DecisionReason { Source = "text", Category = "scam" }]);
        await ReviewStack.WaitQueuedAsync(console.Store, 2);
        Assert.True((await console.Verdicts.ClaimAsync("c-words", "alice")).IsOk);
        var refused = await console.Verdicts.VerdictAsync("c-words", "alice", new VerdictRequest("takedown", "reviewed", null), Ct);
        Assert.Equal(400, refused.Status);
        Assert.Contains("no media to bank", refused.Error);

        Assert.True((await console.Verdicts.ClaimAsync("c-blob", "alice")).IsOk);
        Assert.True((await console.Verdicts.VerdictAsync("c-blob", "alice", new VerdictRequest("takedown", "reviewed", "known bad file"), Ct)).IsOk);
        var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(_stack.Redis.Configuration);
        var digests = new Moderation.Streams.Redis.DigestBanks.RedisDigestBankStore(redis);
        Assert.Equal("sha256", await digests.KindOfAsync("reviewed"));
        var entry = Assert.Single(await digests.LoadAsync("reviewed", "sha256"));
        Assert.Equal(("c-blob", Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(blob)).ToLowerInvariant(), "review:alice"),
            (entry.Id, entry.Digest.ToLowerInvariant(), entry.Source));

        _stack.StartReviewingWorker();
        _stack.Upload("c-blob-again", _stack.WriteMedia("blob2.gif", blob));
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        DecisionEvent? again = null;
        while (again is null)
        {
            Assert.True(DateTime.UtcNow < end, "the worker did not decide the re-upload");
            again = _stack.ReadAll(Topics.Takedown).Select(r => DecisionEvent.FromUtf8Json(r.Value)).FirstOrDefault(d => d.ContentId == "c-blob-again");
            if (again is null) await Task.Delay(300, Ct);
        }
        Assert.Contains(again.Reasons, r => r.Source == "bank" && r.Bank == "reviewed" && r.MatchId == "c-blob" && r.Digest == "sha256");
    }
}
