using System.Security.Cryptography;
using System.Text;
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

    private static Task<T> PollAsync<T>(Func<T> read, Func<T, bool> done) => Poll.UntilAsync(read, done, Deadline, Ct);
}

public sealed class Digest_banks_on_redis_server(RedisServerFixture store) : DigestBankStoreContract(store), IClassFixture<RedisServerFixture>;

public sealed class Digest_banks_on_garnet(GarnetServerFixture store) : DigestBankStoreContract(store), IClassFixture<GarnetServerFixture>;
