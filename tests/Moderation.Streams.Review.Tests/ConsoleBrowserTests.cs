using Microsoft.Playwright;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media;

namespace Moderation.Streams.Review.Tests;

/// <summary>
/// The console in a real browser: Playwright for .NET driving Debian's chromium (<c>test.sh</c> installs it; no browser
/// download), against a real worker, broker and Garnet. A reviewer logs in, reveals the blurred media, claims, takes
/// the item down into a bank, and the worker takes the re-upload down by itself.
/// </summary>
public sealed class ConsoleBrowserTests : IAsyncLifetime
{
    private readonly ReviewStack _stack = new();
    private Chromium? _chromium;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _chromium = await Chromium.LaunchAsync();

    public async ValueTask DisposeAsync()
    {
        if (_chromium is not null) await _chromium.DisposeAsync();
        await _stack.DisposeAsync();
    }

    private void StartWorker() => _stack.StartReviewingWorker();

    private void Upload(string contentId, string url) => _stack.Upload(contentId, url);

    private async Task<DecisionEvent> DecisionOfAsync(string contentId, string topic)
    {
        var end = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (DateTime.UtcNow < end)
        {
            foreach (var r in _stack.ReadAll(topic))
            {
                var d = DecisionEvent.FromUtf8Json(r.Value);
                if (d.ContentId == contentId) return d;
            }
            await Task.Delay(300, Ct);
        }
        throw new TimeoutException($"no decision for {contentId} on {topic}");
    }

    [Fact]
    public async Task A_reviewer_logs_in_reveals_claims_and_takes_down_into_a_bank_and_the_reupload_is_taken_down_by_the_worker()
    {
        StartWorker();
        var console = await _stack.StartConsoleAsync();
        var picture = SampleImages.Jpeg(31, 400, 300);
        Upload("c-first", _stack.WriteMedia("first.jpg", picture));
        await DecisionOfAsync("c-first", Topics.Review);
        await ReviewStack.WaitQueuedAsync(console.Store, 1);

        var page = await _chromium!.Browser.NewPageAsync();
        page.SetDefaultTimeout(90_000); // the whole suite shares two cores: waits bound a hang, not a speed
        await page.GotoAsync(console.Address + "items/c-first");
        Assert.Contains("/login", page.Url);
        await page.FillAsync("#username", "alice");
        await page.FillAsync("#password", "wrong");
        await page.ClickAsync("#login");
        Assert.Contains("wrong password", await page.TextContentAsync("#login-error") ?? "");
        await page.FillAsync("#username", "alice");
        await page.FillAsync("#password", "alice-pw");
        await page.ClickAsync("#login");
        await page.WaitForURLAsync("**/items/c-first");

        // Blurred until revealed, then greyscale, then colour; the image really loaded through the console.
        Assert.Contains("blurred", await page.GetAttributeAsync("#media", "class") ?? "");
        var loaded = await page.EvaluateAsync<int>("() => document.querySelector('#media img').naturalWidth");
        Assert.Equal(400, loaded);
        await page.Keyboard.PressAsync("r");
        Assert.Contains("grey", await page.GetAttributeAsync("#media", "class") ?? "");
        Assert.DoesNotContain("blurred", await page.GetAttributeAsync("#media", "class") ?? "");
        Assert.True(await page.IsDisabledAsync("#v-takedown"));

        await page.Keyboard.PressAsync("c");
        await page.WaitForSelectorAsync("#claim-state:has-text('Claimed by you')");
        await page.CheckAsync("#add-to-bank");
        await page.FillAsync("#bank", "reviewed");
        await page.FillAsync("#note", "taken down in the browser test");
        await page.ClickAsync("#v-takedown");
        // The console answers a verdict with a page that says so: done (the next item or the queue) or the error.
        await page.WaitForURLAsync(u => u.Contains("done=", StringComparison.Ordinal) || u.Contains("error=", StringComparison.Ordinal));
        Assert.DoesNotContain("error=", Uri.UnescapeDataString(page.Url));

        var final = await DecisionOfAsync("c-first", Topics.Takedown);
        Assert.Equal("alice", final.Reasons.Single().Reviewer);

        // The same picture again, as a new upload: the worker matches the bank entry the verdict added.
        Upload("c-again", _stack.WriteMedia("again.jpg", picture));
        var again = await DecisionOfAsync("c-again", Topics.Takedown);
        Assert.Contains(again.Reasons, r => r.Source == "bank" && r.Bank == "reviewed" && r.MatchId == "c-first");

        // The audit page is for admins only.
        await page.GotoAsync(console.Address + "audit");
        Assert.Contains("Forbidden", await page.TitleAsync());
    }
}
