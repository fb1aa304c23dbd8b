using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media;
using static Moderation.Streams.Tests.Shared.Libc;

namespace Moderation.Streams.Worker.Tests;

/// <summary>The policy file is reloaded while the worker runs: valid edits apply atomically, invalid ones are refused
/// with a log line and the running policy stays; the version on each decision is the one that decided it.</summary>
public sealed class PolicyReloadTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("policy-reload-");
    private string PolicyPath => Path.Combine(_dir.FullName, "policy.json");

    // Scores sum to 1 over five classes, so some class is always >= 0.2: this policy reviews everything.
    private const string ReviewAll = """{"version":"review-all","review":{"drawing":0.19,"hentai":0.19,"neutral":0.19,"porn":0.19,"sexy":0.19}}""";
    private const string AllowAll = """{"version":"allow-all"}""";

    public void Dispose() => _dir.Delete(true);

    private static void WaitFor(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting for {what}");
            Thread.Sleep(20);
        }
    }

    [Fact]
    public void A_valid_edit_replaces_the_policy_and_an_invalid_or_unservable_one_is_refused_with_a_log_line()
    {
        File.WriteAllText(PolicyPath, AllowAll);
        var logs = new Logs();
        using var watcher = new PolicyWatcher(PolicyPath, logs.CreateLogger("t"), accept: p => p.Shadow is null ? null : "needs a restart",
            checkInterval: Timeout.InfiniteTimeSpan, watchEvents: false);
        Assert.Equal("allow-all", watcher.Current.Version);
        Assert.False(watcher.CheckNow()); // unchanged content is not a reload

        File.WriteAllText(PolicyPath, ReviewAll);
        Assert.True(watcher.CheckNow());
        Assert.Equal("review-all", watcher.Current.Version);

        File.WriteAllText(PolicyPath, "{\"version\":\"broken\",\n \"takedown\": {\"nudity\": 0.5}}");
        Assert.False(watcher.CheckNow());
        Assert.Equal("review-all", watcher.Current.Version);
        Assert.Contains(logs.Lines, l => l.Contains("review-all stays in force") && l.Contains("line 2: takedown.nudity: unknown class"));

        File.WriteAllText(PolicyPath, """{"version":"with-shadow","shadow":{"model":"nsfw-mobilenet-v2-mid"}}""");
        Assert.False(watcher.CheckNow());
        Assert.Contains(logs.Lines, l => l.Contains("needs a restart"));
        Assert.Equal((1L, 2L), (watcher.Reloads, watcher.Rejected));
    }

    [Fact]
    public async Task A_policy_file_replaced_by_a_fifo_or_a_device_is_not_read_and_the_policy_stays()
    {
        File.WriteAllText(PolicyPath, AllowAll);
        using var watcher = new PolicyWatcher(PolicyPath, new Logs().CreateLogger("t"), checkInterval: Timeout.InfiniteTimeSpan, watchEvents: false);

        File.Delete(PolicyPath);
        Assert.Equal(0, mkfifo(PolicyPath, 0x1B6));
        try
        {
            var check = Task.Run(watcher.CheckNow, TestContext.Current.CancellationToken);
            var finished = await Task.WhenAny(check, Task.Delay(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
            Assert.True(finished == check, "reading a FIFO as the policy blocked");
            Assert.False(await check);
        }
        finally
        {
            ReleaseBlockedReaders(PolicyPath);
        }
        File.Delete(PolicyPath);
        File.CreateSymbolicLink(PolicyPath, "/dev/zero");
        Assert.False(watcher.CheckNow());
        Assert.Equal("allow-all", watcher.Current.Version);

        var e = Assert.Throws<InvalidDataException>(() => new PolicyWatcher(PolicyPath, new Logs().CreateLogger("t"), checkInterval: Timeout.InfiniteTimeSpan, watchEvents: false));
        Assert.Contains("not a regular file (a character device)", e.Message);
    }




    [Fact]
    public void A_changed_policy_that_keeps_its_version_is_refused_so_cached_decisions_cannot_go_stale()
    {
        File.WriteAllText(PolicyPath, AllowAll);
        var logs = new Logs();
        using var watcher = new PolicyWatcher(PolicyPath, logs.CreateLogger("t"), checkInterval: Timeout.InfiniteTimeSpan, watchEvents: false);
        File.WriteAllText(PolicyPath, """{"version":"allow-all","takedown":{"porn":0.2}}""");
        Assert.False(watcher.CheckNow());
        Assert.False(watcher.Current.Takedown.ContainsKey("porn"));
        Assert.Contains(logs.Lines, l => l.Contains("its version is still 'allow-all'"));
    }

    [Fact]
    public void A_worker_does_not_start_on_an_invalid_policy_file()
    {
        File.WriteAllText(PolicyPath, "{\"version\": \"v\",\n \"review\": {\"porn\": 7}}");
        var e = Assert.Throws<InvalidDataException>(() => new PolicyWatcher(PolicyPath, new Logs().CreateLogger("t")));
        Assert.Contains("line 2: review.porn", e.Message);
    }

    [Fact]
    public void Edits_are_seen_by_the_file_watcher_and_by_the_periodic_check_alone()
    {
        File.WriteAllText(PolicyPath, AllowAll);
        using (var events = new PolicyWatcher(PolicyPath, new Logs().CreateLogger("t"), checkInterval: Timeout.InfiniteTimeSpan))
        {
            File.WriteAllText(PolicyPath, ReviewAll);
            WaitFor(() => events.Current.Version == "review-all", "the file watcher");
        }
        using var polling = new PolicyWatcher(PolicyPath, new Logs().CreateLogger("t"), checkInterval: TimeSpan.FromMilliseconds(50), watchEvents: false);
        // Replaced by rename, as editors and ConfigMap updates do.
        var staged = Path.Combine(_dir.FullName, "staged.tmp");
        File.WriteAllText(staged, AllowAll);
        File.Move(staged, PolicyPath, overwrite: true);
        WaitFor(() => polling.Current.Version == "allow-all", "the periodic hash check");
    }

    [Fact]
    public async Task A_running_worker_decides_with_the_new_policy_after_an_edit_and_keeps_it_through_a_broken_one()
    {
        await using var stack = new EmbeddedStack();
        File.WriteAllText(PolicyPath, AllowAll);
        using var host = stack.StartWorker(new() { ["Screening:PolicyFile"] = PolicyPath });
        var watcher = host.Services.GetRequiredService<ScreeningService>().PolicyWatcher!;

        stack.Produce([("before", EmbeddedStack.Upload("before", stack.WriteImage("before.png", SampleImages.Png(7201))))]);
        Assert.Single(stack.ReadOutcomes(1, settle: TimeSpan.Zero));

        File.WriteAllText(PolicyPath, ReviewAll);
        WaitFor(() => watcher.Current.Version == "review-all", "the reload");
        stack.Produce([("after", EmbeddedStack.Upload("after", stack.WriteImage("after.png", SampleImages.Png(7202))))]);
        Assert.Equal(2, stack.ReadOutcomes(2, settle: TimeSpan.Zero).Count);

        // A reader can catch a file half-written (and refuse it too): count refusals from here on.
        long rejectedBefore = watcher.Rejected;
        File.WriteAllText(PolicyPath, """{"version":"broken","unscreenable":"allow"}""");
        WaitFor(() => watcher.Rejected > rejectedBefore, "the refusal");
        stack.Produce([("still", EmbeddedStack.Upload("still", stack.WriteImage("still.png", SampleImages.Png(7203))))]);
        var decisions = stack.ReadOutcomes(3).ToDictionary(r => r.Key!, r => r.Decision);

        Assert.Equal(("allow", "allow-all"), (decisions["before"].Action, decisions["before"].PolicyVersion));
        Assert.Equal(("review", "review-all"), (decisions["after"].Action, decisions["after"].PolicyVersion));
        Assert.Equal(("review", "review-all"), (decisions["still"].Action, decisions["still"].PolicyVersion));
        Assert.Equal("review-all", watcher.Current.Version);
    }

    internal sealed class Logs : ILoggerProvider
    {
        public ConcurrentQueue<string> Lines { get; } = new();
        public ILogger CreateLogger(string categoryName) => new Capturing(this);
        public void Dispose() { }

        private sealed class Capturing(Logs owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
        }
    }
}
