using Microsoft.Extensions.Time.Testing;
using Moderation.Streams.Redis.Banks;
using Moderation.Streams.Redis.Tests.Servers;

namespace Moderation.Streams.Redis.Tests.Banks;

/// <summary>Flood quarantine counters on every Redis-protocol server we support, on a fake clock.</summary>
public abstract class BankFloodsContract(IStoreFixture store)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 10, 0, 0, TimeSpan.Zero));
    private readonly string _prefix = $"t-{Guid.NewGuid():N}:";
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(10);

    private RedisBankFloods New() => new(store.Redis, _prefix, _time);

    private static Task<(IReadOnlySet<(string Bank, string Id)> Quarantined, IReadOnlyList<(string Bank, string Id)> Newly)> Count(
        RedisBankFloods floods, string content, params (string, string)[] entries) =>
        floods.CountAsync(entries, content, "10m", Window, maxUploads: 3, Ct);

    [Fact]
    public async Task An_entry_matching_more_uploads_than_allowed_is_quarantined_once_and_redeliveries_do_not_count()
    {
        var floods = New();
        for (int i = 1; i <= 3; i++)
            Assert.Empty((await Count(floods, $"c-{i}", ("known-bad", "meme"), ("known-bad", "rare"))).Quarantined);
        Assert.Empty((await Count(floods, "c-3", ("known-bad", "meme"))).Quarantined); // redelivered: still 3
        var fourth = await Count(floods, "c-4", ("known-bad", "meme"));
        Assert.Equal([("known-bad", "meme")], fourth.Quarantined);
        Assert.Equal([("known-bad", "meme")], fourth.Newly);
        var fifth = await Count(floods, "c-5", ("known-bad", "meme"), ("known-bad", "rare"));
        // rare's fourth upload quarantines it now; meme was reported once, by the upload that crossed the line.
        Assert.Equal([("known-bad", "meme"), ("known-bad", "rare")], fifth.Quarantined.Order());
        Assert.Equal([("known-bad", "rare")], fifth.Newly);

        var listed = Assert.Single(await floods.ListAsync(), e => e.Id == "meme");
        Assert.Equal(("known-bad", 4, "10m", _time.GetUtcNow()), (listed.Bank, listed.Uploads, listed.Window, listed.At));
    }

    [Fact]
    public async Task Uploads_that_left_the_window_do_not_count_and_a_release_clears_the_count()
    {
        var floods = New();
        for (int i = 1; i <= 3; i++)
        {
            await Count(floods, $"c-{i}", ("b", "e"));
            _time.Advance(TimeSpan.FromMinutes(4));
        }
        // c-1 is 12 minutes old: 3 in the window with this one.
        Assert.Empty((await Count(floods, "c-4", ("b", "e"))).Quarantined);
        Assert.NotEmpty((await Count(floods, "c-5", ("b", "e"))).Quarantined);

        Assert.True(await floods.ReleaseAsync("b", "e"));
        Assert.False(await floods.ReleaseAsync("b", "e"));
        Assert.Empty(await floods.ListAsync());
        Assert.Empty((await Count(floods, "c-6", ("b", "e"))).Quarantined); // counting starts again
    }

    [Fact]
    public async Task Asking_whether_entries_are_quarantined_counts_no_upload_against_them()
    {
        var floods = New();
        for (int i = 1; i <= 4; i++) await Count(floods, $"c-{i}", ("b", "flooded"));
        for (int i = 1; i <= 10; i++) // a trial's matches: asked about, never counted
            Assert.Equal([("b", "flooded")], await floods.QuarantinedAsync([("b", "flooded"), ("b", "quiet")], Ct));
        Assert.Empty(await floods.QuarantinedAsync([], Ct));
        // quiet was asked about ten times and has no upload counted: three real ones leave it under the limit.
        for (int i = 1; i <= 3; i++) Assert.Empty((await Count(floods, $"q-{i}", ("b", "quiet"))).Quarantined);
        Assert.Equal(4, Assert.Single(await floods.ListAsync()).Uploads);
    }

    [Fact]
    public async Task Nothing_matched_is_nothing_counted()
    {
        var result = await New().CountAsync([], "c-1", "10m", Window, 3, Ct);
        Assert.Empty(result.Quarantined);
        Assert.Empty(result.Newly);
    }
}

public sealed class Bank_floods_on_redis_server(RedisServerFixture store)
    : BankFloodsContract(store), IClassFixture<RedisServerFixture>;

public sealed class Bank_floods_on_garnet(GarnetServerFixture store)
    : BankFloodsContract(store), IClassFixture<GarnetServerFixture>;
