using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Redis.Banks;
using Moderation.Streams.Redis.Tests.Servers;

namespace Moderation.Streams.Redis.Tests.Banks;

/// <summary>A live matcher while the real redis-server dies and comes back (empty: no persistence).</summary>
public sealed class BankOutageTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Lookups_are_answered_from_memory_through_a_restart_and_later_changes_still_arrive()
    {
        await using var server = await RedisServerProcess.StartAsync(Ct);
        await using var redis = await RedisConnector.ConnectAsync(server.Configuration);
        var store = new RedisBankStore(redis);
        var random = new Random(11);
        var first = BankStoreContract.RandomHash(random);
        var second = BankStoreContract.RandomHash(random);
        await store.ImportAsync("known-bad", [new BankEntry("known-bad", "h-1", first, 90, null, null, DateTimeOffset.UnixEpoch)]);
        await using var matcher = new BankMatcher(store, new BankMatcherOptions
        {
            RefreshInterval = TimeSpan.FromMilliseconds(200),
            RetryAttempts = 0,
            BreakerBreakDuration = TimeSpan.FromMilliseconds(500),
        });
        await matcher.StartAsync(Deadline, Ct);
        Assert.Equal(BankLookupStatus.Matched, matcher.Match(first, 90).Status);

        await server.StopAsync();
        // The store is gone; the copy in memory is fresh enough, so known content still comes down.
        await Assert.ThrowsAsync<StoreUnavailableException>(() => matcher.SyncAsync(full: false, Ct));
        Assert.Equal(BankLookupStatus.Matched, matcher.Match(BankStoreContract.FlipBits(first, 10, random), 90).Status);

        await server.RestartAsync(Ct);
        // Back, but empty: the bank vanished together with its version, which is data loss, not a deletion,
        // so the matcher keeps its copy rather than letting known content through.
        await PollAsync(async () =>
        {
            try
            {
                await matcher.SyncAsync(full: true, Ct);
                return true;
            }
            catch (StoreUnavailableException)
            {
                return false;
            }
        });
        Assert.Equal(BankLookupStatus.Matched, matcher.Match(first, 90).Status);

        // A new import after the restart reaches the matcher, although the bank's version counter started again
        // at the very number the matcher holds: the store's new epoch makes it read everything again.
        Assert.Equal(matcher.Versions["known-bad"], await store.ImportAsync("known-bad", [new BankEntry("known-bad", "h-2", second, 90, null, null, DateTimeOffset.UnixEpoch)]));
        await PollAsync(() => Task.FromResult(matcher.Match(second, 90).Status == BankLookupStatus.Matched));
        Assert.Equal(BankLookupStatus.NoMatch, matcher.Match(first, 90).Status);
    }

    [Fact]
    public async Task A_bank_kept_through_a_restart_is_read_again_when_its_new_counter_reaches_the_version_it_was_kept_at()
    {
        // The racy order of the test above, by hand and with no sync loop: after the restart a sync sees the new
        // epoch before the kept bank is registered again (here another bank's import sets the epoch; in the race it
        // is the import's own first step), so the matcher adopts the new epoch while it still holds the kept copy at
        // its old-epoch version. The re-import then brings the new counter to that very number.
        await using var server = await RedisServerProcess.StartAsync(Ct);
        await using var redis = await RedisConnector.ConnectAsync(server.Configuration);
        var store = new RedisBankStore(redis);
        var random = new Random(12);
        var first = BankStoreContract.RandomHash(random);
        var second = BankStoreContract.RandomHash(random);
        await store.ImportAsync("known-bad", [new BankEntry("known-bad", "h-1", first, 90, null, null, DateTimeOffset.UnixEpoch)]);
        await using var matcher = new BankMatcher(store, new BankMatcherOptions { RetryAttempts = 0 });
        await matcher.SyncAsync(full: true, Ct);
        Assert.Equal(1, matcher.Versions["known-bad"]);

        await server.RestartAsync(Ct);
        await PollAsync(async () =>
        {
            try
            {
                await matcher.SyncAsync(full: true, Ct);
                return true;
            }
            catch (StoreUnavailableException)
            {
                return false;
            }
        });
        Assert.Equal(BankLookupStatus.Matched, matcher.Match(first, 90).Status);

        await store.ImportAsync("other", [new BankEntry("other", "o-1", BankStoreContract.RandomHash(random), 90, null, null, DateTimeOffset.UnixEpoch)]);
        await matcher.SyncAsync(full: false, Ct);
        Assert.Equal(BankLookupStatus.Matched, matcher.Match(first, 90).Status);

        Assert.Equal(1, await store.ImportAsync("known-bad", [new BankEntry("known-bad", "h-2", second, 90, null, null, DateTimeOffset.UnixEpoch)]));
        Assert.True(await matcher.SyncAsync(full: false, Ct));
        Assert.Equal(BankLookupStatus.Matched, matcher.Match(second, 90).Status);
        Assert.Equal(BankLookupStatus.NoMatch, matcher.Match(first, 90).Status);
    }

    private static async Task PollAsync(Func<Task<bool>> done)
    {
        var until = DateTime.UtcNow + Deadline;
        while (!await done())
        {
            if (DateTime.UtcNow > until) throw new TimeoutException($"not done after {Deadline}");
            await Task.Delay(50, Ct);
        }
    }
}
