using Microsoft.Playwright;

namespace Moderation.Streams.Review.Tests;

/// <summary>Playwright driving Debian's chromium (<c>test.sh</c> installs it; no browser is downloaded), headless.</summary>
public sealed class Chromium : IAsyncDisposable
{
    public static readonly string Path = Environment.GetEnvironmentVariable("MODERATION_CHROMIUM") ?? "/usr/bin/chromium";
    private readonly IPlaywright _playwright;

    private Chromium(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        Browser = browser;
    }

    public IBrowser Browser { get; }

    public static async Task<Chromium> LaunchAsync()
    {
        Assert.True(File.Exists(Path), $"no browser at {Path}: test.sh installs Debian's chromium (apt-get install chromium); set MODERATION_CHROMIUM to another");
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = Path, Headless = true, Args = ["--no-sandbox"] });
        return new Chromium(playwright, browser);
    }

    public async ValueTask DisposeAsync()
    {
        await Browser.DisposeAsync();
        _playwright.Dispose();
    }
}
