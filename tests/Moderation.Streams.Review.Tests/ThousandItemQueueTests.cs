using Microsoft.Playwright;
using Moderation.Streams.Media;

namespace Moderation.Streams.Review.Tests;

/// <summary>
/// A queue of 1,000 items a real worker sent to review, worked in the browser with the keyboard alone. With
/// <c>MODERATION_SCREENSHOTS=DIR</c> the test also writes the README's screenshots of the queue and an item page there.
/// </summary>
[Collection(nameof(ThousandItemQueueTests))]
public sealed class ThousandItemQueueTests : IAsyncLifetime
{
    private const int Items = 1000;
    private readonly ReviewStack _stack = new();
    private Chromium? _chromium;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _chromium = await Chromium.LaunchAsync();

    public async ValueTask DisposeAsync()
    {
        if (_chromium is not null) await _chromium.DisposeAsync();
        await _stack.DisposeAsync();
    }

    [Fact]
    public async Task A_reviewer_works_a_queue_of_a_thousand_items_from_a_worker_run_with_the_keyboard()
    {
        // Captions of every tenth upload hit a term bank: their matches are highlighted on the item page.
        var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(_stack.Redis.Configuration);
        await new Moderation.Streams.Redis.TextBanks.RedisTextBankStore(redis).ImportAsync("scam-terms", "terms", new StringReader("free followers,scam,t-1\n"));
        _stack.StartReviewingWorker();
        var console = await _stack.StartConsoleAsync();
        for (int i = 0; i < Items; i++)
            _stack.Upload($"c-{i:0000}", _stack.WriteMedia($"i{i}.jpg", SampleImages.Jpeg(1000 + i, 160, 120)),
                caption: i % 10 == 0 ? $"get free followers now, picture {i}" : null);
        var end = DateTime.UtcNow + TimeSpan.FromMinutes(8);
        while ((await console.Store.DepthAsync()).Depth < Items)
        {
            Assert.True(DateTime.UtcNow < end, $"only {(await console.Store.DepthAsync()).Depth} of {Items} items were queued");
            await Task.Delay(500, Ct);
        }

        var page = await _chromium!.Browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 800 } });
        page.SetDefaultTimeout(90_000); // the whole suite shares two cores: waits bound a hang, not a speed
        await page.GotoAsync(console.Address.ToString());
        await page.FillAsync("#username", "alice");
        await page.FillAsync("#password", "alice-pw");
        await page.ClickAsync("#login");
        await page.WaitForSelectorAsync("#queue");
        Assert.StartsWith($"{Items} waiting", await page.TextContentAsync("#depth"));
        Assert.Equal(Items, await page.Locator("#queue tbody tr").CountAsync());
        // Most urgent first.
        var priorities = (await page.Locator("#queue tbody tr td:first-child").AllTextContentsAsync())
            .Select(t => double.Parse(t, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(priorities.OrderByDescending(p => p).ToList(), priorities);
        string? shots = Environment.GetEnvironmentVariable("MODERATION_SCREENSHOTS");
        if (shots is not null) await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(shots, "review-queue.png") });

        // The filter for text signals: the hundred captioned uploads, each with its term match.
        await page.SelectOptionAsync("select[name=source]", "text");
        await page.ClickAsync("form.panel button");
        await page.WaitForURLAsync("**/?source=text*");
        Assert.Equal(Items / 10, await page.Locator("#queue tbody tr").CountAsync());
        Assert.All(await page.Locator("#queue tbody tr").AllTextContentsAsync(), row => Assert.Contains("term scam", row));

        // j j Enter opens the third most urgent item; r c t reveals, claims and takes it down, and the console moves on.
        var third = await page.Locator("#queue tbody tr").Nth(2).GetAttributeAsync("data-href");
        await page.Keyboard.PressAsync("j");
        await page.Keyboard.PressAsync("j");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForURLAsync("**" + third);
        Assert.Contains("<mark>free followers</mark>", await page.InnerHTMLAsync("#caption"));
        for (int worked = 0; worked < 3; worked++)
        {
            var item = page.Url;
            await page.Keyboard.PressAsync("r");
            await page.Keyboard.PressAsync("c");
            await page.WaitForSelectorAsync("#claim-state:has-text('Claimed by you')");
            if (worked == 0 && shots is not null)
            {
                await page.Keyboard.PressAsync("r"); // colour, for the picture in the README (greyscale after the first press)
                await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(shots, "review-item.png"), FullPage = true });
            }
            await page.Keyboard.PressAsync(worked == 1 ? "a" : "t");
            // The next item's page says the verdict was recorded (or the item's page says why not).
            string itemPath = new Uri(item).AbsolutePath;
            await page.WaitForURLAsync(u => new Uri(u) is var next && (next.AbsolutePath != itemPath && u.Contains("done=", StringComparison.Ordinal)
                || u.Contains("error=", StringComparison.Ordinal)));
            Assert.DoesNotContain("error=", Uri.UnescapeDataString(page.Url));
            Assert.Matches("^/items/c-[0-9]{4}$", new Uri(page.Url).AbsolutePath);
        }
        Assert.Equal(Items - 3, (await console.Store.DepthAsync()).Depth);
        Assert.Equal(3, (await console.Store.AuditAsync(10)).Count);
        Assert.Equal(["allow", "takedown", "takedown"], (await console.Store.AuditAsync(10)).Select(r => r.Event.Verdict).Order().ToArray());
    }
}

/// <summary>The 1,000-item run keeps two cores busy for minutes: it runs alone, not beside this assembly's other tests.</summary>
[CollectionDefinition(nameof(ThousandItemQueueTests), DisableParallelization = true)]
public sealed class ThousandItemQueueCollection;
