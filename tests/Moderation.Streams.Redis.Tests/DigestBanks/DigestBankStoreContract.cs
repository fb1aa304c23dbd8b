using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Redis.Banks;
using Moderation.Streams.Redis.DigestBanks;
using Moderation.Streams.Redis.Tests.Servers;

namespace Moderation.Streams.Redis.Tests.DigestBanks;

/// <summary>Exact file-hash banks in the store and a live matcher over them, on every Redis-protocol server we support.</summary>
public abstract class DigestBankStoreContract(IStoreFixture store)
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);
    private static readonly DateTimeOffset Added = new(2026, 11, 3, 8, 15, 30, 250, TimeSpan.Zero);
    private readonly string _prefix = $"t-{Guid.NewGuid():N}:";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private RedisDigestBankStore NewStore() => new(store.Redis, _prefix);

    private static byte[] File(int i) => Encoding.ASCII.GetBytes($"file {i}");

    private static DigestEntry Sha(string bank, int i, string? label = null) =>
        new(bank, DigestKinds.Sha256, $"{bank}-{i}", Convert.ToHexStringLower(SHA256.HashData(File(i))), label, "list.csv", Added);

    [Fact]
    public async Task Imports_load_back_with_provenance_versions_move_and_a_bank_keeps_its_kind()
    {
        var digests = NewStore();
        long v1 = await digests.ImportAsync("ncmec", DigestKinds.Sha256, [Sha("ncmec", 1, "csam"), Sha("ncmec", 2)]);
        long v2 = await digests.ImportAsync("ncmec", DigestKinds.Sha256, [Sha("ncmec", 2, "relabelled")]); // same id: replaced
        Assert.True(v2 > v1);
        Assert.Equal([Sha("ncmec", 1, "csam"), Sha("ncmec", 2, "relabelled")], await digests.LoadAsync("ncmec", DigestKinds.Sha256));
        Assert.Equal([("ncmec", DigestKinds.Sha256, 2L, v2)], await digests.ListAsync());

        var wrongKind = await Assert.ThrowsAsync<ArgumentException>(() => digests.ImportAsync("ncmec", DigestKinds.Md5, []));
        Assert.Contains("holds sha256 digests, not md5", wrongKind.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => digests.ImportAsync("ncmec", DigestKinds.Sha256, [Sha("other", 3)]));
        await Assert.ThrowsAsync<ArgumentException>(() => digests.ImportAsync("ncmec", DigestKinds.Sha256, [Sha("ncmec", 3) with { Label = "bad\nlabel" }]));
        await Assert.ThrowsAsync<ArgumentException>(() => digests.ImportAsync("ncmec", DigestKinds.Sha256, [Sha("ncmec", 3) with { Digest = "abc" }]));

        Assert.Equal(1, await digests.RemoveAsync("ncmec", ["ncmec-1", "missing"]));
        Assert.True(await digests.GetVersionsAsync() is var versions && versions["ncmec"] > v2);
        Assert.True(await digests.DeleteAsync("ncmec"));
        Assert.Empty(await digests.ListAsync());
        Assert.Null(await digests.KindOfAsync("ncmec"));
        Assert.False(await digests.DeleteAsync("ncmec"));
    }

    [Fact]
    public async Task A_running_matcher_sees_an_import_and_a_removal_through_the_change_channel()
    {
        var digests = NewStore();
        // Only the change message can make the matcher look within the test.
        await using var matcher = new DigestBankMatcher(digests, new BankMatcherOptions { KeyPrefix = _prefix, RefreshInterval = TimeSpan.FromHours(1), FullReloadInterval = TimeSpan.FromHours(1), MaxStaleness = TimeSpan.FromHours(2) });
        await matcher.StartAsync(Deadline, Ct);
        Assert.Empty(matcher.Current!.Match(File(7)));

        await digests.ImportAsync("live", DigestKinds.Sha256, [Sha("live", 7, "label-7")]);
        var found = await PollAsync(() => matcher.Current!.Match(File(7)), m => m.Count > 0);
        Assert.Equal(Sha("live", 7, "label-7"), Assert.Single(found));
        Assert.Empty(matcher.Current!.Match(File(8)));

        await digests.RemoveAsync("live", ["live-7"]);
        await PollAsync(() => matcher.Current!.Match(File(7)), m => m.Count == 0);
    }

    [Fact]
    public async Task Only_the_bank_that_changed_is_read_again_and_a_wiped_store_written_again_is_read_whole()
    {
        var digests = NewStore();
        await digests.ImportAsync("a", DigestKinds.Sha256, [Sha("a", 1)]);
        await digests.ImportAsync("b", DigestKinds.Sha256, [Sha("b", 2)]);
        await using var matcher = new DigestBankMatcher(digests, new BankMatcherOptions { KeyPrefix = _prefix, RefreshInterval = TimeSpan.FromHours(1), FullReloadInterval = TimeSpan.FromHours(1), MaxStaleness = TimeSpan.FromHours(2) });
        Assert.True(await matcher.SyncAsync(Ct));
        var a = matcher.Banks["a"];

        await digests.ImportAsync("b", DigestKinds.Sha256, [Sha("b", 3)]);
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Same(a, matcher.Banks["a"]); // not read again
        Assert.Equal(2, matcher.Banks["b"].Count);
        Assert.Single(matcher.Current!.Match(File(3)));

        // Wiped (FLUSHALL, or a restart without persistence): what was banked stays matched until someone re-imports it.
        var db = store.Redis.GetDatabase();
        await db.KeyDeleteAsync([digests.RegistryKey, digests.EntriesKey("a"), digests.EntriesKey("b"), digests.VersionKey("a"), digests.VersionKey("b"), _prefix + "banks:epoch"]);
        Assert.False(await matcher.SyncAsync(Ct));
        Assert.Single(matcher.Current!.Match(File(1)));

        // Written again: bank a at version 1 once more, with other content. Only the store's new epoch tells it apart.
        Assert.Equal(1, await digests.ImportAsync("a", DigestKinds.Sha256, [Sha("a", 4)]));
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Equal("a-4", Assert.Single(matcher.Banks["a"].Match(File(4))).Id);
        Assert.Empty(matcher.Current!.Match(File(1)));
        Assert.Single(matcher.Current!.Match(File(3))); // bank b, gone with its version, still kept
    }

    private BankMatcherOptions Quiet => new() { KeyPrefix = _prefix, RefreshInterval = TimeSpan.FromHours(1), FullReloadInterval = TimeSpan.FromHours(1), MaxStaleness = TimeSpan.FromHours(2) };

    private static List<DigestEntry> Many(string bank, int count, int from = 0) => [.. Enumerable.Range(from, count).Select(i => Sha(bank, i))];

    [Fact]
    public async Task An_add_a_replacement_and_a_removal_reach_the_copy_from_their_delta_records_without_reading_the_bank_whole()
    {
        var digests = NewStore();
        await digests.ImportAsync("big", DigestKinds.Sha256, Many("big", 500));
        await digests.ImportAsync("other", DigestKinds.Sha256, [Sha("other", 1000)]);
        await using var matcher = new DigestBankMatcher(digests, Quiet);
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Equal((2L, 0L), matcher.CatchUps);
        var other = matcher.Banks["other"];

        // Added; replaced under the same id by another file's digest; removed.
        await digests.ImportAsync("big", DigestKinds.Sha256, [Sha("big", 600), Sha("big", 700) with { Id = "big-5" }]);
        Assert.Equal(1, await digests.RemoveAsync("big", ["big-6", "not-there"]));
        // The records and the time are in the bank's cluster slot, and the records expire.
        var db = store.Redis.GetDatabase();
        long version = await digests.GetVersionAsync("big");
        foreach (var key in new[] { digests.DeltaKey("big", version), digests.DeltaKey("big", version - 1), digests.ChangedAtKey("big") })
            Assert.Equal(ClusterSlot.Of(digests.EntriesKey("big")), ClusterSlot.Of(key));
        Assert.InRange((await db.KeyTimeToLiveAsync(digests.DeltaKey("big", version)))!.Value, TimeSpan.FromMinutes(14), TimeSpan.FromMinutes(15));

        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Equal((2L, 1L), matcher.CatchUps); // one bank from its changes, nothing read whole
        Assert.True(matcher.Banks["big"].OverlayCount > 0);
        Assert.Same(other, matcher.Banks["other"]);
        Assert.Equal("big-600", Assert.Single(matcher.Current!.Match(File(600))).Id);
        Assert.Equal("big-5", Assert.Single(matcher.Current!.Match(File(700))).Id);
        Assert.Empty(matcher.Current!.Match(File(5))); // the digest it had before
        Assert.Empty(matcher.Current!.Match(File(6)));
        Assert.Single(matcher.Current!.Match(File(7)));
        Assert.Equal(
            (await digests.LoadAsync("big", DigestKinds.Sha256)).OrderBy(e => e.Id, StringComparer.Ordinal),
            matcher.Banks["big"].Entries.OrderBy(e => e.Id, StringComparer.Ordinal));
        Assert.Equal(501, matcher.Current!.Count); // 500 + 1 added - 1 removed, and other's one
    }

    [Fact]
    public async Task A_bank_whose_records_do_not_reach_back_is_read_whole()
    {
        var digests = NewStore();
        await digests.ImportAsync("a", DigestKinds.Sha256, Many("a", 50));
        await using var matcher = new DigestBankMatcher(digests, Quiet);
        Assert.True(await matcher.SyncAsync(Ct));
        var db = store.Redis.GetDatabase();

        // A record expired (or a writer older than the records never wrote it).
        await digests.ImportAsync("a", DigestKinds.Sha256, [Sha("a", 100)]);
        await db.KeyDeleteAsync(digests.DeltaKey("a", await digests.GetVersionAsync("a")));
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Equal((2L, 0L), matcher.CatchUps);
        Assert.Single(matcher.Current!.Match(File(100)));

        // Replaced whole: its record says so.
        await digests.ImportAsync("a", DigestKinds.Sha256, [Sha("a", 200)], replace: true);
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Equal((3L, 0L), matcher.CatchUps);
        Assert.Equal((1, 0), (matcher.Current!.Count, matcher.Banks["a"].OverlayCount));
        Assert.Empty(matcher.Current!.Match(File(100)));

        // Further behind than the records go (a version counted past them).
        await digests.ImportAsync("a", DigestKinds.Sha256, [Sha("a", 300)]);
        await db.StringIncrementAsync(digests.VersionKey("a"), RedisBankStore.MaxDeltaSpan);
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Equal((4L, 0L), matcher.CatchUps);
        Assert.Single(matcher.Current!.Match(File(300)));

        // And from the records again once they reach back.
        await digests.RemoveAsync("a", ["a-300"]);
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Equal((4L, 1L), matcher.CatchUps);
        Assert.Empty(matcher.Current!.Match(File(300)));

        // A change touching more than the bank's copy takes from records (a list imported again, larger than the bank).
        await digests.ImportAsync("a", DigestKinds.Sha256, Many("a", DigestIndex.MinOverlayBeforeRebuild + 1, from: 10_000));
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Equal((5L, 1L), matcher.CatchUps);
        Assert.Equal(0, matcher.Banks["a"].OverlayCount);
        Assert.Single(matcher.Current!.Match(File(10_000)));
    }

    [Fact]
    public async Task The_periodic_whole_read_catches_a_change_the_records_missed_and_the_changes_made_meanwhile()
    {
        var digests = NewStore();
        await digests.ImportAsync("a", DigestKinds.Sha256, Many("a", 20));
        await using var matcher = new DigestBankMatcher(digests, Quiet);
        Assert.True(await matcher.SyncAsync(Ct));
        // Written behind the store's back: no version, no record.
        await store.Redis.GetDatabase().HashDeleteAsync(digests.EntriesKey("a"), "a-3");
        await digests.ImportAsync("a", DigestKinds.Sha256, [Sha("a", 40)]);
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Single(matcher.Current!.Match(File(3)));

        Assert.True(await matcher.ResyncAsync(Ct));
        Assert.Empty(matcher.Current!.Match(File(3)));
        Assert.Single(matcher.Current!.Match(File(40)));
        Assert.Equal(0, matcher.Banks["a"].OverlayCount);
        Assert.Equal((2L, 1L), matcher.CatchUps);
    }

    [Fact]
    public async Task A_bank_too_large_for_one_reply_is_read_by_pages_and_comes_back_whole()
    {
        var digests = new RedisDigestBankStore(store.Redis, _prefix) { WholeReadMax = 100 };
        var entries = Many("paged", 5_000);
        await digests.ImportAsync("paged", DigestKinds.Sha256, entries);
        await digests.RemoveAsync("paged", ["paged-17"]);
        Assert.Equal(entries.Where(e => e.Id != "paged-17").OrderBy(e => e.Id, StringComparer.Ordinal), await digests.LoadAsync("paged", DigestKinds.Sha256));
        await using var matcher = new DigestBankMatcher(digests, Quiet);
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Equal(4_999, matcher.Current!.Count);
    }

    [Fact]
    public async Task Readers_matching_while_changes_are_applied_see_each_index_whole_before_or_after_a_change()
    {
        var digests = NewStore();
        // Entry "x" moves between two files' digests, one change at a time: every index a reader holds lists exactly one.
        await digests.ImportAsync("m", DigestKinds.Sha256, [.. Many("m", 300), Sha("m", 1000) with { Id = "x" }]);
        await using var matcher = new DigestBankMatcher(digests, Quiet);
        Assert.True(await matcher.SyncAsync(Ct));
        using var stop = new CancellationTokenSource();
        long reads = 0;
        // One reader, resting a little (the server, the client and the matcher share the machine's cores with it).
        var reader = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                var index = matcher.Current!;
                int listed = index.Match(File(1000)).Count + index.Match(File(1001)).Count;
                if (listed != 1 || index.Count != 301) throw new InvalidOperationException($"an index listing x {listed} times, with {index.Count} entries");
                if (Interlocked.Increment(ref reads) % 8 == 0) Thread.Sleep(1);
            }
        }, CancellationToken.None);
        for (int i = 0; i < 60; i++)
        {
            await digests.ImportAsync("m", DigestKinds.Sha256, [Sha("m", 1000 + (i + 1) % 2) with { Id = "x" }]);
            Assert.True(await matcher.SyncAsync(Ct));
        }
        await stop.CancelAsync();
        await reader;
        Assert.Equal((1L, 60L), matcher.CatchUps);
        Assert.True(Interlocked.Read(ref reads) > 0);
    }

    [Fact]
    public async Task Each_change_the_copy_applies_records_its_delay_from_the_write_with_the_digest_kind()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 7, 9, 0, 0, TimeSpan.Zero));
        string bank = "delay-" + Guid.NewGuid().ToString("N")[..8];
        var delays = new ConcurrentQueue<(double Seconds, string? Kind)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == RedisTelemetry.MeterName && instrument.Name == RedisTelemetry.BankChangeDelayHistogram) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            string? kind = null;
            bool ours = false;
            foreach (var tag in tags)
            {
                if (tag.Key == RedisTelemetry.KindTag) kind = (string?)tag.Value;
                if (tag.Key == RedisTelemetry.BankTag && ((string?)tag.Value)?.StartsWith(bank, StringComparison.Ordinal) == true) ours = true;
            }
            if (ours) delays.Enqueue((value, kind));
        });
        listener.Start();

        var digests = new RedisDigestBankStore(store.Redis, _prefix, time);
        await digests.ImportAsync(bank, DigestKinds.Sha256, [Sha(bank, 1)]);
        Assert.Equal(time.GetUtcNow().ToUnixTimeMilliseconds(), (long)await store.Redis.GetDatabase().StringGetAsync(digests.ChangedAtKey(bank)));
        await using var matcher = new DigestBankMatcher(digests, Quiet, time: time);
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(await matcher.SyncAsync(Ct));
        Assert.Empty(delays); // the first load applies no change

        await digests.ImportAsync(bank, DigestKinds.Sha256, [Sha(bank, 2)]);
        time.Advance(TimeSpan.FromMilliseconds(750));
        Assert.True(await matcher.SyncAsync(Ct)); // from its record
        await digests.ImportAsync(bank, DigestKinds.Sha256, [Sha(bank, 3)], replace: true);
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(await matcher.SyncAsync(Ct)); // read whole: a change all the same
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(await matcher.ResyncAsync(Ct)); // the same version read again: none
        await digests.ImportAsync(bank + "-new", DigestKinds.Sha256, [Sha(bank + "-new", 4)]);
        time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.True(await matcher.SyncAsync(Ct)); // a bank new since the first load

        Assert.Equal([(0.75, "digest"), (2.0, "digest"), (0.1, "digest")], delays.ToArray());
    }

    private static Task<T> PollAsync<T>(Func<T> read, Func<T, bool> done) => Poll.UntilAsync(read, done, Deadline, Ct);
}

public sealed class Digest_banks_on_redis_server(RedisServerFixture store) : DigestBankStoreContract(store), IClassFixture<RedisServerFixture>;

public sealed class Digest_banks_on_garnet(GarnetServerFixture store) : DigestBankStoreContract(store), IClassFixture<GarnetServerFixture>;
