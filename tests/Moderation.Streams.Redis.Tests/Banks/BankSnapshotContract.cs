using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Redis.Banks;
using Moderation.Streams.Redis.Tests.Servers;
using StackExchange.Redis;
using static Moderation.Streams.Redis.Tests.Banks.BankStoreContract;

namespace Moderation.Streams.Redis.Tests.Banks;

/// <summary>Bank snapshots (binary blocks + manifest + changed set) on every Redis-protocol server we support: what a
/// worker starting from one holds must be exactly what a scan of the bank gives, whatever changed around it.</summary>
public abstract class BankSnapshotContract(IStoreFixture store)
{
    /// <summary>Whether the server's HSCAN returns every field present throughout a scan, under concurrent writes
    /// (Redis promises it; Garnet was seen to skip fields).</summary>
    protected abstract bool ScanKeepsItsPromise { get; }

    private readonly string _prefix = $"s-{Guid.NewGuid():N}:";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private RedisBankStore NewStore() => new(store.Redis, _prefix);

    private IDatabase Db => store.Redis.GetDatabase();

    // The bank as a reader starting from its snapshot holds it: the blocks less the changed ids, plus those as they are now.
    private static async Task<(long Version, List<BankEntry> Entries)> FromSnapshotAsync(RedisBankStore bankStore, string bank)
    {
        var entries = new List<BankEntry>();
        string? epoch = await bankStore.Connection.GetDatabase().StringGetAsync(bankStore.EpochKey);
        var read = await bankStore.ReadSnapshotAsync(bank, epoch, block =>
        {
            for (int i = 0; i < block.Count; i++)
                if (!block.IsSkipped(i)) entries.Add(block.EntryAt(bank, i));
        }, Ct);
        Assert.NotNull(read);
        entries.AddRange((await bankStore.ReadEntriesAsync(bank, read.ChangedIds)).Values.OfType<BankEntry>());
        return (read.Version, entries);
    }

    private static List<BankEntry> Sorted(IEnumerable<BankEntry> entries) => [.. entries.OrderBy(e => e.Id, StringComparer.Ordinal)];

    [Fact]
    public async Task A_snapshot_reads_back_as_the_bank_it_was_written_from()
    {
        var bankStore = NewStore();
        // Over one block, with labels, no labels and ids in several scripts.
        var entries = Entries("big", BankSnapshotBlock.MaxEntries + 1000, seed: 41);
        entries[5] = entries[5] with { Id = "café-日本-🙂", Label = "ünïcode", Source = null };
        await bankStore.ImportAsync("big", entries);
        Assert.Null(await bankStore.GetSnapshotInfoAsync("big"));

        var info = await bankStore.WriteSnapshotAsync("big", ct: Ct);

        Assert.NotNull(info);
        Assert.Equal((entries.Count, 2, await bankStore.GetVersionAsync("big"), 0L), (info.Entries, info.Blocks, info.Version, info.Changed));
        var (version, read) = await FromSnapshotAsync(bankStore, "big");
        Assert.Equal(info.Version, version);
        Assert.Equal(Sorted(entries), Sorted(read));
        Assert.Equal(info with { Changed = 0 }, await bankStore.GetSnapshotInfoAsync("big"));
        // Published blocks do not expire.
        Assert.Null(await Db.KeyTimeToLiveAsync(bankStore.SnapshotBlockKey("big", info.Id, 0)));
    }

    [Fact]
    public async Task Changes_after_a_snapshot_are_recorded_so_a_reader_ends_with_the_bank_as_it_is_now()
    {
        var bankStore = NewStore();
        var entries = Entries("b", 3000, seed: 42);
        await bankStore.ImportAsync("b", entries);
        await bankStore.WriteSnapshotAsync("b", ct: Ct);
        var random = new Random(43);

        var added = new BankEntry("b", "added", RandomHash(random), 90, "new", "t", DateTimeOffset.UnixEpoch);
        var replaced = entries[7] with { Hash = RandomHash(random), Label = "changed" };
        await bankStore.ImportAsync("b", [added, replaced]);
        await bankStore.RemoveAsync("b", ["b-9", "never-there"]);

        var info = await bankStore.GetSnapshotInfoAsync("b");
        Assert.Equal(4, info?.Changed); // added, b-7, b-9, never-there
        var (version, read) = await FromSnapshotAsync(bankStore, "b");
        Assert.Equal(await bankStore.GetVersionAsync("b"), version);
        var (_, scanned) = await bankStore.LoadAsync("b", Ct);
        Assert.Equal(Sorted(scanned), Sorted(read));
        Assert.Contains(read, e => e.Id == "b-7" && e.Label == "changed");
        Assert.DoesNotContain(read, e => e.Id == "b-9");
    }

    [Fact]
    public async Task Changes_made_while_a_snapshot_is_written_are_never_lost()
    {
        var bankStore = NewStore();
        var entries = Entries("busy", 40_000, seed: 44);
        await bankStore.ImportAsync("busy", entries);
        var random = new Random(45);
        using var stop = new CancellationTokenSource();
        var writes = Task.Run(async () =>
        {
            int n = 0;
            while (!stop.IsCancellationRequested)
            {
                await bankStore.ImportAsync("busy", [entries[random.Next(entries.Count)] with { Hash = RandomHash(random) },
                    new BankEntry("busy", $"late-{n++}", RandomHash(random), 80, null, null, DateTimeOffset.UnixEpoch)]);
                await bankStore.RemoveAsync("busy", [$"busy-{random.Next(entries.Count)}"]);
                await Task.Delay(5); // well under the 512 versions a writer can catch up on
            }
            return n;
        });
        BankSnapshotInfo? info = null;
        InvalidDataException? refused = null;
        try
        {
            info = await bankStore.WriteSnapshotAsync("busy", ct: Ct);
        }
        catch (InvalidDataException e)
        {
            refused = e;
        }
        finally
        {
            await stop.CancelAsync();
        }
        int late = await writes;
        Assert.True(late > 0);
        if (refused is not null)
        {
            // Only a server whose scan skips entries under writes may make the writer refuse; nothing is published then.
            Assert.False(ScanKeepsItsPromise, refused.Message);
            Assert.Contains("not published", refused.Message);
            Assert.Null(await bankStore.GetSnapshotInfoAsync("busy"));
            return;
        }
        // Written during at most a few hundred changes: published, and the reader's result is the bank now.
        Assert.NotNull(info);
        var (_, read) = await FromSnapshotAsync(bankStore, "busy");
        var (_, scanned) = await bankStore.LoadAsync("busy", Ct);
        Assert.Equal(Sorted(scanned), Sorted(read));
    }

    [Fact]
    public async Task A_matcher_that_scanned_during_writes_ends_with_the_bank_as_it_is()
    {
        var bankStore = NewStore();
        var entries = Entries("scan", 40_000, seed: 57);
        await bankStore.ImportAsync("scan", entries);
        var log = new Messages();
        await using var matcher = new BankMatcher(bankStore, new BankMatcherOptions { KeyPrefix = _prefix, Dihedral = false }, log);
        var random = new Random(58);
        using var stop = new CancellationTokenSource();
        var writes = Task.Run(async () =>
        {
            int n = 0;
            while (!stop.IsCancellationRequested)
            {
                await bankStore.ImportAsync("scan", [entries[random.Next(entries.Count)] with { Hash = RandomHash(random) },
                    new BankEntry("scan", $"late-{n++}", RandomHash(random), 80, null, null, DateTimeOffset.UnixEpoch)]);
                await bankStore.RemoveAsync("scan", [$"scan-{random.Next(entries.Count)}"]);
                await Task.Delay(5, Ct);
            }
        }, Ct);
        try
        {
            await matcher.SyncAsync(full: true, Ct);
        }
        finally
        {
            await stop.CancelAsync();
            await writes;
        }
        // The changes since the scan's version, then (where the scan's count did not add up) a whole read again.
        for (int i = 0; i < 4; i++) await matcher.SyncAsync(full: false, Ct);

        var (_, now) = await bankStore.LoadAsync("scan", Ct);
        Assert.Equal(now.Count, matcher.Index.TotalEntries);
        foreach (var e in now.Where((_, i) => i % 97 == 0)) Assert.Equal(e.Id, matcher.Match(e.Hash, 100).Match?.Id);
        // A server that keeps SCAN's promise never needs the second read.
        if (ScanKeepsItsPromise) Assert.DoesNotContain(log.Lines, l => l.Contains("reading it whole again", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_field_that_cannot_be_decoded_is_counted_and_does_not_make_the_bank_be_read_again()
    {
        var bankStore = NewStore();
        await bankStore.ImportAsync("j", Entries("j", 300, seed: 59));
        await Db.HashSetAsync(bankStore.EntriesKey("j"), "junk", "not an entry");
        var log = new Messages();
        await using var matcher = new BankMatcher(bankStore, new BankMatcherOptions { KeyPrefix = _prefix, Dihedral = false }, log);
        await matcher.SyncAsync(full: true, Ct);
        Assert.False(await matcher.SyncAsync(full: false, Ct));
        Assert.Equal(300, matcher.Index.TotalEntries);
        Assert.DoesNotContain(log.Lines, l => l.Contains("entries held", StringComparison.Ordinal));

        // A field written without a version (behind the store's back) is not: found by the count after the next scan.
        await Db.HashSetAsync(bankStore.EntriesKey("j"), "ghost", RedisBankStore.Encode(new BankEntry("j", "ghost", RandomHash(new Random(60)), 90, null, null, DateTimeOffset.UnixEpoch)));
        Assert.True(await matcher.ResyncAsync(Ct));
        Assert.Equal(301, matcher.Index.TotalEntries);
        Assert.DoesNotContain(log.Lines, l => l.Contains("entries held", StringComparison.Ordinal));
    }

    // The matcher's log lines, for tests that check what it said.
    private sealed class Messages : Microsoft.Extensions.Logging.ILogger
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _lines = new();

        public IReadOnlyCollection<string> Lines => _lines;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter) => _lines.Enqueue(formatter(state, exception));
    }

    [Fact]
    public async Task A_new_snapshot_replaces_the_old_one_whose_blocks_expire_after_the_grace()
    {
        var bankStore = NewStore();
        await bankStore.ImportAsync("r", Entries("r", 500, seed: 46));
        var first = await bankStore.WriteSnapshotAsync("r", ct: Ct);
        await bankStore.RemoveAsync("r", ["r-1"]);
        var second = await bankStore.WriteSnapshotAsync("r", ct: Ct);

        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.NotEqual(first.Id, second.Id);
        Assert.Equal((499L, 0L), (second.Entries, second.Changed));
        Assert.Equal(0, await Db.SetLengthAsync(bankStore.SnapshotChangedKey("r")));
        var ttl = await Db.KeyTimeToLiveAsync(bankStore.SnapshotBlockKey("r", first.Id, 0));
        Assert.True(ttl is { } t && t > TimeSpan.Zero && t <= bankStore.SnapshotGrace, $"old block TTL {ttl}");
        Assert.Null(await Db.KeyTimeToLiveAsync(bankStore.SnapshotBlockKey("r", second.Id, 0)));
    }

    [Fact]
    public async Task Emptying_the_bank_drops_its_snapshot_and_so_does_the_drop_call()
    {
        var bankStore = NewStore();
        await bankStore.ImportAsync("e", Entries("e", 100, seed: 47));
        var info = await bankStore.WriteSnapshotAsync("e", ct: Ct);
        await bankStore.ImportAsync("e", Entries("e", 3, seed: 48), replace: true);

        Assert.Null(await bankStore.GetSnapshotInfoAsync("e"));
        Assert.Equal(0, await Db.SetLengthAsync(bankStore.SnapshotChangedKey("e")));
        Assert.True(await Db.KeyTimeToLiveAsync(bankStore.SnapshotBlockKey("e", info!.Id, 0)) is { } ttl && ttl <= bankStore.SnapshotGrace);

        Assert.NotNull(await bankStore.WriteSnapshotAsync("e", ct: Ct));
        Assert.True(await bankStore.DeleteSnapshotAsync("e"));
        Assert.False(await bankStore.DeleteSnapshotAsync("e"));
        Assert.Null(await bankStore.GetSnapshotInfoAsync("e"));
        // No bank, nothing to write.
        Assert.Null(await bankStore.WriteSnapshotAsync("never-imported", ct: Ct));
    }

    [Fact]
    public async Task A_change_that_would_grow_the_changed_set_past_its_limit_drops_the_snapshot()
    {
        var bankStore = new RedisBankStore(store.Redis, _prefix) { MaxSnapshotChanged = 300 };
        var entries = Entries("c", 1000, seed: 55);
        await bankStore.ImportAsync("c", entries);
        var info = await bankStore.WriteSnapshotAsync("c", ct: Ct);
        var random = new Random(56);
        // 250 changed ids: kept (300 is the limit here, and over half the snapshot's 1,000).
        await bankStore.ImportAsync("c", [.. entries.Take(250).Select(e => e with { Hash = RandomHash(random) })]);
        Assert.Equal(250, (await bankStore.GetSnapshotInfoAsync("c"))?.Changed);
        // 250 more make 500: exactly the limit (half the snapshot), kept; one more is past it.
        await bankStore.ImportAsync("c", [.. entries.Skip(250).Take(250).Select(e => e with { Hash = RandomHash(random) })]);
        Assert.Equal(500, (await bankStore.GetSnapshotInfoAsync("c"))?.Changed);
        await bankStore.RemoveAsync("c", ["c-999"]);

        Assert.Null(await bankStore.GetSnapshotInfoAsync("c"));
        Assert.Equal(0, await Db.SetLengthAsync(bankStore.SnapshotChangedKey("c")));
        Assert.True(await Db.KeyTimeToLiveAsync(bankStore.SnapshotBlockKey("c", info!.Id, 0)) is { } ttl && ttl <= bankStore.SnapshotGrace);
    }

    [Fact]
    public async Task A_snapshot_of_another_epoch_or_with_a_damaged_block_is_not_used()
    {
        var bankStore = NewStore();
        await bankStore.ImportAsync("d", Entries("d", 200, seed: 49));
        var info = await bankStore.WriteSnapshotAsync("d", ct: Ct);
        Assert.Null(await bankStore.ReadSnapshotAsync("d", "another-epoch", _ => { }, Ct));

        string? epoch = await Db.StringGetAsync(bankStore.EpochKey);
        byte[] block = (await Db.StringGetAsync(bankStore.SnapshotBlockKey("d", info!.Id, 0)))!;
        block[^1] ^= 0x40;
        await Db.StringSetAsync(bankStore.SnapshotBlockKey("d", info.Id, 0), block);
        var damaged = await Assert.ThrowsAsync<InvalidDataException>(() => bankStore.ReadSnapshotAsync("d", epoch, _ => { }, Ct));
        Assert.Contains("checksum", damaged.Message);

        await Db.KeyDeleteAsync(bankStore.SnapshotBlockKey("d", info.Id, 0));
        var missing = await Assert.ThrowsAsync<InvalidDataException>(() => bankStore.ReadSnapshotAsync("d", epoch, _ => { }, Ct));
        Assert.Contains("missing", missing.Message);

        // A manifest claiming billions of entries: refused before anything is set aside for them.
        var begun = false;
        var claimed = info with { Entries = 3_000_000_000, Blocks = (int)(3_000_000_000 / BankSnapshotBlock.MaxEntries) + 1 };
        await Db.StringSetAsync(bankStore.SnapshotKey("d"), claimed.Format());
        var huge = await Assert.ThrowsAsync<InvalidDataException>(() => bankStore.ReadSnapshotAsync("d", epoch, _ => { }, Ct, _ => begun = true));
        Assert.Contains("claims 3000000000 entries", huge.Message);
        Assert.False(begun);
        // Nor one whose blocks could not hold what it claims.
        Assert.Null(BankSnapshotInfo.Parse((info with { Entries = 2L * BankSnapshotBlock.MaxEntries + 1, Blocks = 2 }).Format()));
    }

    [Fact]
    public async Task A_matcher_starts_from_the_snapshot_and_matches_as_one_that_scanned()
    {
        var bankStore = NewStore();
        var entries = Entries("m", 6000, seed: 50);
        await bankStore.ImportAsync("m", entries);
        var options = new BankMatcherOptions { KeyPrefix = _prefix, Dihedral = false };
        await using var scanning = new BankMatcher(bankStore, options with { Snapshots = false });
        await scanning.SyncAsync(full: true, Ct);
        await bankStore.WriteSnapshotAsync("m", ct: Ct);
        var random = new Random(51);
        var late = new BankEntry("m", "late", RandomHash(random), 90, null, null, DateTimeOffset.UnixEpoch);
        await bankStore.ImportAsync("m", [late]);
        await bankStore.RemoveAsync("m", ["m-3"]);
        await scanning.SyncAsync(full: false, Ct);

        await using var matcher = new BankMatcher(bankStore, options);
        await matcher.SyncAsync(full: true, Ct);

        Assert.True(matcher.LastLoad?.FromSnapshot);
        Assert.Equal(scanning.Index.TotalEntries, matcher.Index.TotalEntries);
        Assert.Equal(scanning.Versions["m"], matcher.Versions["m"]);
        foreach (var e in entries.Take(200).Append(late))
            Assert.Equal(scanning.Match(e.Hash, 90), matcher.Match(e.Hash, 90));
        Assert.Equal(BankLookupStatus.NoMatch, matcher.Match(entries[3].Hash, 90).Status);
        Assert.Equal("late", matcher.Match(late.Hash, 90).Match?.Id);

        // And goes on from its changes' records as any matcher does.
        await bankStore.RemoveAsync("m", ["late"]);
        Assert.True(await matcher.SyncAsync(full: false, Ct));
        Assert.Equal(BankLookupStatus.NoMatch, matcher.Match(late.Hash, 90).Status);
    }

    [Fact]
    public async Task A_matcher_scans_when_a_snapshot_block_is_gone()
    {
        var bankStore = NewStore();
        var entries = Entries("g", 500, seed: 52);
        await bankStore.ImportAsync("g", entries);
        var info = await bankStore.WriteSnapshotAsync("g", ct: Ct);
        await Db.KeyDeleteAsync(bankStore.SnapshotBlockKey("g", info!.Id, 0));

        await using var matcher = new BankMatcher(bankStore, new BankMatcherOptions { KeyPrefix = _prefix, Dihedral = false });
        await matcher.SyncAsync(full: true, Ct);

        Assert.False(matcher.LastLoad?.FromSnapshot);
        Assert.Equal(500, matcher.Index.TotalEntries);
        Assert.Equal("g-77", matcher.Match(entries[77].Hash, 90).Match?.Id);
    }

    [Fact]
    public async Task After_scanning_a_big_bank_one_matcher_writes_its_snapshot_and_the_lock_keeps_others_out()
    {
        var bankStore = NewStore();
        await bankStore.ImportAsync("w", Entries("w", 2000, seed: 53));
        await bankStore.ImportAsync("small", Entries("small", 10, seed: 54));
        var options = new BankMatcherOptions { KeyPrefix = _prefix, Dihedral = false, SnapshotMinEntries = 1000 };

        // Another writer holds the lock: the matcher scans and leaves it alone.
        Assert.True(await bankStore.TryLockSnapshotAsync("w", "someone-else", TimeSpan.FromMinutes(1)));
        await using (var first = new BankMatcher(bankStore, options))
            await first.SyncAsync(full: true, Ct);
        Assert.Null(await bankStore.GetSnapshotInfoAsync("w"));
        await bankStore.ReleaseSnapshotLockAsync("w", "someone-else");

        await using var matcher = new BankMatcher(bankStore, options);
        await matcher.SyncAsync(full: true, Ct);
        var until = DateTime.UtcNow.AddSeconds(20);
        while (await bankStore.GetSnapshotInfoAsync("w") is null && DateTime.UtcNow < until) await Task.Delay(50, Ct);

        Assert.Equal(2000, (await bankStore.GetSnapshotInfoAsync("w"))?.Entries);
        Assert.Null(await bankStore.GetSnapshotInfoAsync("small")); // under SnapshotMinEntries
        Assert.False(await Db.KeyExistsAsync(bankStore.SnapshotLockKey("w"))); // given back
    }
}

public sealed class Snapshots_on_redis_server(RedisServerFixture store) : BankSnapshotContract(store), IClassFixture<RedisServerFixture>
{
    protected override bool ScanKeepsItsPromise => true;
}

public sealed class Snapshots_on_garnet(GarnetServerFixture store) : BankSnapshotContract(store), IClassFixture<GarnetServerFixture>
{
    protected override bool ScanKeepsItsPromise => false;
}
