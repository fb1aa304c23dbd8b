using Microsoft.Extensions.Time.Testing;
using Moderation.Streams.Hashing;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Redis.Banks;
using Moderation.Streams.Redis.Tests.Servers;

namespace Moderation.Streams.Redis.Tests.Banks;

/// <summary>Hash banks in the store and a live matcher over them, run against every Redis-protocol server we support.</summary>
public abstract class BankStoreContract(IStoreFixture store)
{
    /// <summary>Bounds a wait for something that should happen within a second or two; only a hang reaches it.</summary>
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    // Each test has its own prefix (keys and change channel), so tests sharing a server never see each other.
    private readonly string _prefix = $"t-{Guid.NewGuid():N}:";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private RedisBankStore NewStore() => new(store.Redis, _prefix);

    internal static PdqHash RandomHash(Random random)
    {
        Span<byte> bytes = stackalloc byte[32];
        random.NextBytes(bytes);
        return PdqHash.FromBytes(bytes);
    }

    internal static PdqHash FlipBits(PdqHash hash, int count, Random random)
    {
        Span<ulong> w = stackalloc ulong[4];
        hash.CopyTo(w);
        var bits = Enumerable.Range(0, 256).OrderBy(_ => random.Next()).Take(count);
        foreach (var b in bits) w[b >> 6] ^= 1UL << (b & 63);
        return PdqHash.FromWords(w);
    }

    internal static List<BankEntry> Entries(string bank, int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(i => new BankEntry(bank, $"{bank}-{i}", RandomHash(random), 50 + i % 51,
            i % 3 == 0 ? "csam, \"hashlist\"" : null, "test", DateTimeOffset.FromUnixTimeMilliseconds(1_780_000_000_000 + i))).ToList();
    }

    [Fact]
    public async Task An_exported_bank_imports_back_to_the_same_entries()
    {
        var bankStore = NewStore();
        var entries = Entries("known-bad", 2500, seed: 1); // more than one import batch
        await bankStore.ImportAsync("known-bad", entries);

        var (_, exported) = await bankStore.LoadAsync("known-bad", Ct);
        var csv = new StringWriter();
        BankCsv.Write(csv, exported.OrderBy(e => e.Id, StringComparer.Ordinal));
        var (reimported, errors) = BankCsv.Read(new StringReader(csv.ToString()), "known-bad", "other", DateTimeOffset.UnixEpoch);

        Assert.Empty(errors);
        Assert.Equal(entries.OrderBy(e => e.Id, StringComparer.Ordinal), reimported);
        await bankStore.ImportAsync("copy", reimported.Select(e => e with { Bank = "copy" }).ToList());
        var (_, copy) = await bankStore.LoadAsync("copy", Ct);
        Assert.Equal(entries.Select(e => e with { Bank = "copy" }).OrderBy(e => e.Id, StringComparer.Ordinal), copy.OrderBy(e => e.Id, StringComparer.Ordinal));
    }

    [Fact]
    public async Task An_import_with_a_huge_or_dirty_id_or_label_is_refused_before_anything_is_written()
    {
        var bankStore = NewStore();
        var good = Entries("guarded", 3, seed: 5);
        foreach (var bad in new[]
        {
            good[0] with { Id = new string('i', Contracts.TextLimits.BankIdChars + 1) },
            good[0] with { Id = "h-1\r\nforged" },
            good[0] with { Label = new string('l', Contracts.TextLimits.BankLabelChars + 1) },
            good[0] with { Source = "src\u202E" },
        })
        {
            var refused = await Assert.ThrowsAsync<ArgumentException>(() => bankStore.ImportAsync("guarded", [.. good, bad], replace: true));
            Assert.True(Contracts.SafeText.IsClean(refused.Message) && refused.Message.Length < 400, refused.Message);
        }
        Assert.Empty((await bankStore.LoadAsync("guarded", Ct)).Entries);

        var atLimits = good[1] with { Id = new string('i', Contracts.TextLimits.BankIdChars), Label = new string('l', Contracts.TextLimits.BankLabelChars) };
        await bankStore.ImportAsync("guarded", [atLimits]);
        Assert.Equal([atLimits], (await bankStore.LoadAsync("guarded", Ct)).Entries);
    }

    [Fact]
    public async Task Every_change_moves_the_version_and_list_shows_counts()
    {
        var bankStore = NewStore();
        long v1 = await bankStore.ImportAsync("a", Entries("a", 10, 2));
        long v2 = await bankStore.ImportAsync("a", Entries("a", 3, 3)); // same ids a-0..a-2: replaced, not added
        await bankStore.ImportAsync("b", Entries("b", 4, 4));
        long v3 = await bankStore.RemoveAsync("a", ["a-0", "a-1", "missing"]) switch { 2 => await bankStore.GetVersionAsync("a"), var n => throw new Xunit.Sdk.XunitException($"removed {n}") };

        Assert.True(v1 < v2 && v2 < v3);
        Assert.Equal([new BankInfo("a", 8, v3), new BankInfo("b", 4, await bankStore.GetVersionAsync("b"))], await bankStore.ListAsync());

        Assert.True(await bankStore.DeleteBankAsync("a"));
        Assert.Equal(["b"], (await bankStore.ListAsync()).Select(b => b.Name));
        Assert.True(await bankStore.GetVersionAsync("a") > v3); // deletion is a change readers see
        Assert.Empty((await bankStore.LoadAsync("a", Ct)).Entries);
    }

    [Fact]
    public async Task A_bank_entries_and_version_share_one_cluster_slot_and_banks_spread()
    {
        var bankStore = NewStore();
        Assert.Equal(ClusterSlot.Of(bankStore.EntriesKey("known-bad")), ClusterSlot.Of(bankStore.VersionKey("known-bad")));
        Assert.Equal(ClusterSlot.Of(bankStore.EntriesKey("known-bad")), ClusterSlot.Of(bankStore.DeltaKey("known-bad", 7)));
        Assert.Equal(ClusterSlot.Of(bankStore.EntriesKey("known-bad")), ClusterSlot.Of(bankStore.ChangedAtKey("known-bad")));
        var slots = Enumerable.Range(0, 20).Select(i => ClusterSlot.Of(bankStore.EntriesKey($"bank-{i}"))).Distinct().Count();
        Assert.True(slots > 15, $"{slots} distinct slots for 20 banks");
        await Assert.ThrowsAsync<ArgumentException>(() => bankStore.ImportAsync("bad{name}", []));
    }

    [Fact]
    public async Task A_running_matcher_sees_an_import_and_a_removal_through_the_change_channel()
    {
        var bankStore = NewStore();
        var random = new Random(5);
        var known = RandomHash(random);
        // A refresh interval far longer than the test: only the change message can make the matcher look.
        await using var matcher = new BankMatcher(bankStore, new BankMatcherOptions { KeyPrefix = _prefix, RefreshInterval = TimeSpan.FromHours(1), FullReloadInterval = TimeSpan.FromHours(1), MaxStaleness = TimeSpan.FromHours(2) });
        await matcher.StartAsync(Deadline, Ct);
        var nearCopy = FlipBits(known, 20, random);
        Assert.Equal(BankLookupStatus.NoMatch, matcher.Match(nearCopy, 100).Status);

        await bankStore.ImportAsync("live", [new BankEntry("live", "h-77", known, 90, "label", "test", DateTimeOffset.UnixEpoch)]);
        var matched = await PollAsync(() => matcher.Match(nearCopy, 100), l => l.Status == BankLookupStatus.Matched);
        Assert.Equal(("live", "h-77", 20), (matched.Match!.Value.Bank, matched.Match.Value.Id, matched.Match.Value.Distance));
        Assert.Equal(BankLookupStatus.NoMatch, matcher.Match(nearCopy, 49).Status); // quality below 50 never matches

        await bankStore.RemoveAsync("live", ["h-77"]);
        await PollAsync(() => matcher.Match(nearCopy, 100), l => l.Status == BankLookupStatus.NoMatch);
    }

    [Fact]
    public async Task Entries_imported_from_hma_and_threatexchange_exports_match_with_their_provenance()
    {
        var bankStore = NewStore();
        var random = new Random(11);
        var (fromHma, fromTe) = (RandomHash(random), RandomHash(random));
        await using var matcher = new BankMatcher(bankStore, new BankMatcherOptions { KeyPrefix = _prefix, RefreshInterval = TimeSpan.FromHours(1), FullReloadInterval = TimeSpan.FromHours(1), MaxStaleness = TimeSpan.FromHours(2) });
        await matcher.StartAsync(Deadline, Ct);

        var hma = BankCsv.ReadAny(new StringReader($"bank_name,content_id,signal_type,signal,created_at\nPARTNER,1001,pdq,{fromHma},2024-03-01T12:00:00.123+00:00\n"),
            "shared", "hma.csv", DateTimeOffset.UnixEpoch);
        var te = BankCsv.ReadAny(new StringReader($"{fromTe},2880742865368386,2020-07-31T18:47:52+0000,media_type_photo disputed\n"),
            "shared", "te-dump.csv", DateTimeOffset.UnixEpoch);
        Assert.Empty(hma.Errors.Concat(te.Errors));
        await bankStore.ImportAsync("shared", [.. hma.Entries, .. te.Entries]);

        var near = FlipBits(fromHma, 5, random);
        var first = (await PollAsync(() => matcher.MatchPerBank(near, 90), l => l.PerBank.Count > 0)).PerBank.Single();
        Assert.Equal(("1001", 5, (string?)null, "PARTNER", new DateTimeOffset(2024, 3, 1, 12, 0, 0, 123, TimeSpan.Zero)),
            (first.Id, first.Distance, first.Entry.Label, first.Entry.Source, first.Entry.AddedAt));
        var second = matcher.MatchPerBank(fromTe, 90).PerBank.Single();
        Assert.Equal(("2880742865368386", 0, "media_type_photo disputed", "te-dump.csv", new DateTimeOffset(2020, 7, 31, 18, 47, 52, TimeSpan.Zero)),
            (second.Id, second.Distance, second.Entry.Label, second.Entry.Source, second.Entry.AddedAt));
    }

    [Fact]
    public async Task A_change_without_a_message_is_found_by_the_periodic_check()
    {
        var bankStore = NewStore();
        var hash = RandomHash(new Random(6));
        await using var matcher = new BankMatcher(bankStore, new BankMatcherOptions { KeyPrefix = _prefix, RefreshInterval = TimeSpan.FromMilliseconds(200) });
        await matcher.StartAsync(Deadline, Ct);

        // Written behind the store's back: entries and version, no PUBLISH.
        var db = store.Redis.GetDatabase();
        await db.SetAddAsync(bankStore.RegistryKey, "quiet");
        await db.HashSetAsync(bankStore.EntriesKey("quiet"), "q-1", RedisBankStore.Encode(new BankEntry("quiet", "q-1", hash, 80, null, null, DateTimeOffset.UnixEpoch)));
        await db.StringIncrementAsync(bankStore.VersionKey("quiet"));

        var found = await PollAsync(() => matcher.Match(hash, 80), l => l.Status == BankLookupStatus.Matched);
        Assert.Equal(0, found.Match!.Value.Distance);
    }

    [Fact]
    public async Task Banks_too_long_without_a_sync_are_unavailable()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var bankStore = NewStore();
        var hash = RandomHash(new Random(7));
        await bankStore.ImportAsync("stale", [new BankEntry("stale", "s-1", hash, 80, null, null, DateTimeOffset.UnixEpoch)]);
        var options = new BankMatcherOptions { KeyPrefix = _prefix, RefreshInterval = TimeSpan.FromSeconds(10), MaxStaleness = TimeSpan.FromMinutes(2) };
        await using var matcher = new BankMatcher(bankStore, options, time: time);
        Assert.Equal(BankLookupStatus.Unavailable, matcher.Match(hash, 80).Status); // never loaded

        await matcher.SyncAsync(full: true, Ct);
        Assert.Equal(BankLookupStatus.Matched, matcher.Match(hash, 80).Status);
        time.Advance(options.MaxStaleness + TimeSpan.FromSeconds(1));
        Assert.Equal(BankLookupStatus.Unavailable, matcher.Match(hash, 80).Status);
    }

    [Fact]
    public async Task Each_change_a_matcher_applies_records_its_delay_from_the_write_on_the_writers_clock()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 23, 0, 0, TimeSpan.Zero));
        var bank = "delay-" + Guid.NewGuid().ToString("N")[..8];
        var delays = new System.Collections.Concurrent.ConcurrentQueue<double>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == RedisTelemetry.MeterName && instrument.Name == RedisTelemetry.BankChangeDelayHistogram) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
                if (tag.Key == RedisTelemetry.BankTag && ((string?)tag.Value)?.StartsWith(bank, StringComparison.Ordinal) == true) delays.Enqueue(value);
        });
        listener.Start();

        var bankStore = new RedisBankStore(store.Redis, _prefix, time);
        var random = new Random(11);
        await bankStore.ImportAsync(bank, [new BankEntry(bank, "a", RandomHash(random), 80, null, null, DateTimeOffset.UnixEpoch)]);
        Assert.Equal(time.GetUtcNow().ToUnixTimeMilliseconds(), (long)await store.Redis.GetDatabase().StringGetAsync(bankStore.ChangedAtKey(bank)));
        await using var matcher = new BankMatcher(bankStore, new BankMatcherOptions { KeyPrefix = _prefix }, time: time);
        time.Advance(TimeSpan.FromSeconds(30));
        await matcher.SyncAsync(full: true, Ct);
        Assert.Empty(delays); // the first load applies no change: the bank was there before the worker

        await bankStore.ImportAsync(bank, [new BankEntry(bank, "b", RandomHash(random), 80, null, null, DateTimeOffset.UnixEpoch)]);
        time.Advance(TimeSpan.FromMilliseconds(750));
        Assert.True(await matcher.SyncAsync(full: false, Ct));
        time.Advance(TimeSpan.FromSeconds(5));
        await matcher.SyncAsync(full: true, Ct); // a full reload of the same version: nothing recorded
        await bankStore.RemoveAsync(bank, ["a"]);
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(await matcher.SyncAsync(full: false, Ct));
        // A bank new since the first load is a change too; a store written without changed_at records nothing.
        var other = bank + "-new";
        var otherHash = RandomHash(random);
        await bankStore.ImportAsync(other, [new BankEntry(other, "c", otherHash, 80, null, null, DateTimeOffset.UnixEpoch)]);
        await store.Redis.GetDatabase().KeyDeleteAsync(bankStore.ChangedAtKey(bank));
        await store.Redis.GetDatabase().StringIncrementAsync(bankStore.VersionKey(bank));
        time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.True(await matcher.SyncAsync(full: false, Ct));
        Assert.Equal(BankLookupStatus.Matched, matcher.Match(otherHash, 80).Status);

        Assert.Equal([0.75, 2.0, 0.1], delays.ToArray());
    }

    [Fact]
    public async Task A_change_reaches_the_matcher_from_its_delta_record_without_a_rebuild()
    {
        var bankStore = NewStore();
        var entries = Entries("big", 5000, seed: 21);
        await bankStore.ImportAsync("big", entries);
        await using var matcher = new BankMatcher(bankStore, new BankMatcherOptions { KeyPrefix = _prefix, Dihedral = false });
        await matcher.SyncAsync(full: true, Ct);
        Assert.Equal((5000, 0), (matcher.Index.BaseCount, matcher.Index.OverlayCount));

        var random = new Random(22);
        var added = new BankEntry("big", "added", RandomHash(random), 90, "new", "t", DateTimeOffset.UnixEpoch);
        var moved = entries[10] with { Hash = RandomHash(random) };
        await bankStore.ImportAsync("big", [added, moved]);
        Assert.Equal(1, await bankStore.RemoveAsync("big", ["big-20", "not-there"]));
        // 5,000 entries were three batches: versions 1-3; the import made 4, the removal 5.
        var records = await store.Redis.GetDatabase().StringGetAsync(bankStore.DeltaKey("big", 5));
        Assert.Equal("ids\nbig-20\nnot-there", (string?)records);
        Assert.True(await matcher.SyncAsync(full: false, Ct));

        // The same base: two of its entries gone (one replaced), two in the overlay.
        Assert.Equal((5000, 2, 2, 5000), (matcher.Index.BaseCount, matcher.Index.RemovedFromBase, matcher.Index.OverlayCount, matcher.Index.Count));
        Assert.Equal("added", matcher.Match(added.Hash, 90).Match?.Id);
        Assert.Equal("big-10", matcher.Match(moved.Hash, 90).Match?.Id);
        Assert.Equal(BankLookupStatus.NoMatch, matcher.Match(entries[10].Hash, 90).Status);
        Assert.Equal(BankLookupStatus.NoMatch, matcher.Match(entries[20].Hash, 90).Status);
        Assert.Equal(5, matcher.Versions["big"]);
        Assert.False(await matcher.SyncAsync(full: false, Ct)); // nothing moved
    }

    [Fact]
    public async Task Without_its_delta_records_a_change_is_read_whole_and_the_answer_is_the_same()
    {
        var bankStore = NewStore();
        var entries = Entries("k", 300, seed: 23);
        await bankStore.ImportAsync("k", entries);
        await using var matcher = new BankMatcher(bankStore, new BankMatcherOptions { KeyPrefix = _prefix, Dihedral = false });
        await matcher.SyncAsync(full: true, Ct);
        var random = new Random(24);
        var late = new BankEntry("k", "late", RandomHash(random), 90, null, null, DateTimeOffset.UnixEpoch);
        await bankStore.ImportAsync("k", [late]);
        await bankStore.RemoveAsync("k", ["k-1"]);
        // The first record expired (or an older writer wrote none).
        Assert.True(await store.Redis.GetDatabase().KeyDeleteAsync(bankStore.DeltaKey("k", 2)));
        Assert.True(await matcher.SyncAsync(full: false, Ct));
        Assert.Equal("late", matcher.Match(late.Hash, 90).Match?.Id);
        Assert.Equal(BankLookupStatus.NoMatch, matcher.Match(entries[1].Hash, 90).Status);
        Assert.Equal(300, matcher.Index.Count);

        // A replace empties the bank first: its record says so, and the reader reads the bank whole.
        var replacement = Entries("k", 3, seed: 25);
        await bankStore.ImportAsync("k", replacement, replace: true);
        Assert.Equal("clear", (string?)await store.Redis.GetDatabase().StringGetAsync(bankStore.DeltaKey("k", 4)));
        Assert.True(await matcher.SyncAsync(full: false, Ct));
        Assert.Equal(3, matcher.Index.Count);
        Assert.Equal(BankLookupStatus.NoMatch, matcher.Match(late.Hash, 90).Status);
        Assert.Equal("k-2", matcher.Match(replacement[2].Hash, 90).Match?.Id);

        // Further behind than the records are meant to span: read whole too.
        for (int i = 0; i < RedisBankStore.MaxDeltaSpan + 5; i++)
            await bankStore.ImportAsync("k", [new BankEntry("k", $"n{i}", RandomHash(random), 90, null, null, DateTimeOffset.UnixEpoch)]);
        Assert.True(await matcher.SyncAsync(full: false, Ct));
        Assert.Equal(3 + RedisBankStore.MaxDeltaSpan + 5, matcher.Index.Count);
    }

    [Fact]
    public async Task Two_writers_of_one_bank_at_once_lose_no_change_and_leave_a_record_for_every_version()
    {
        var bankStore = NewStore();
        await using var matcher = new BankMatcher(bankStore, new BankMatcherOptions { KeyPrefix = _prefix, Dihedral = false });
        await bankStore.ImportAsync("shared", Entries("shared", 5000, seed: 26)); // versions 1-3
        await matcher.SyncAsync(full: true, Ct);
        var first = Entries("shared", 5000 + 3 * RedisBankStore.BatchSize, seed: 27).Skip(5000).ToList();
        var second = Entries("shared", 5000 + 3 * RedisBankStore.BatchSize, seed: 28).Skip(5000).Select(e => e with { Id = "w2-" + e.Id }).ToList();
        await Task.WhenAll(Task.Run(() => bankStore.ImportAsync("shared", first)), Task.Run(() => bankStore.ImportAsync("shared", second)),
            Task.Run(() => bankStore.RemoveAsync("shared", ["shared-3"])));
        long version = await bankStore.GetVersionAsync("shared");
        Assert.Equal(3 + 3 + 3 + 1, version);
        for (long v = 1; v <= version; v++) Assert.True(await store.Redis.GetDatabase().KeyExistsAsync(bankStore.DeltaKey("shared", v)), $"version {v}");
        Assert.True(await matcher.SyncAsync(full: false, Ct));
        Assert.Equal(5000 - 1 + first.Count + second.Count, matcher.Index.Count);
        // Applied from the records, not read whole: the base kept, the new entries beside it.
        Assert.Equal((5000, 1, first.Count + second.Count), (matcher.Index.BaseCount, matcher.Index.RemovedFromBase, matcher.Index.OverlayCount));
        Assert.Equal(second[^1].Id, matcher.Match(second[^1].Hash, 90).Match?.Id);
    }

    [Fact]
    public async Task The_periodic_whole_re_read_finds_what_no_record_announced()
    {
        var bankStore = NewStore();
        var entries = Entries("quiet", 50, seed: 29);
        await bankStore.ImportAsync("quiet", entries);
        await using var matcher = new BankMatcher(bankStore, new BankMatcherOptions { KeyPrefix = _prefix, Dihedral = false });
        await matcher.SyncAsync(full: true, Ct);
        Assert.False(await matcher.ResyncAsync(Ct)); // nothing to find

        // Written behind the versions' back: the change path cannot see it.
        await store.Redis.GetDatabase().HashDeleteAsync(bankStore.EntriesKey("quiet"), "quiet-7");
        var random = new Random(30);
        var late = new BankEntry("quiet", "late", RandomHash(random), 90, null, null, DateTimeOffset.UnixEpoch);
        Assert.False(await matcher.SyncAsync(full: false, Ct));
        Assert.Equal("quiet-7", matcher.Match(entries[7].Hash, 90).Match?.Id);

        // A change the matcher has not applied yet comes in with the re-read.
        await bankStore.ImportAsync("quiet", [late]);
        Assert.True(await matcher.ResyncAsync(Ct));
        Assert.Equal(BankLookupStatus.NoMatch, matcher.Match(entries[7].Hash, 90).Status);
        Assert.Equal("late", matcher.Match(late.Hash, 90).Match?.Id);
        Assert.Equal(50, matcher.Index.Count);
    }

    private static Task<T> PollAsync<T>(Func<T> read, Func<T, bool> done) => Poll.UntilAsync(read, done, Deadline, Ct);
}

public sealed class Banks_on_redis_server(RedisServerFixture store) : BankStoreContract(store), IClassFixture<RedisServerFixture>;

public sealed class Banks_on_garnet(GarnetServerFixture store) : BankStoreContract(store), IClassFixture<GarnetServerFixture>;
