using Microsoft.Extensions.Logging.Abstractions;
using Moderation.Streams.Contracts;
using Moderation.Streams.Embedded;
using Moderation.Streams.Inference;
using Moderation.Streams.Media;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;

namespace Moderation.Streams.Worker.Tests;

/// <summary>Flood quarantine counts the uploads a bank entry acts on: a match its bank's <c>enabled</c> share leaves out
/// (a bank on trial) decides nothing, so it does not count toward the entry's flood; an entry already quarantined still
/// shows so in the trial's would-be decision. On the embedded store, through <see cref="ScreenerServices.WithFloodsAsync"/>.</summary>
public sealed class BankTrialFloodsTests : IAsyncDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private const int MaxUploads = 2;
    private readonly EmbeddedRedisServer _server = EmbeddedRedisServer.Start();

    public async ValueTask DisposeAsync() => await _server.DisposeAsync();

    private sealed class Unused : IImageClassifier
    {
        public ModelDescriptor Model { get; } = new("unused", 1, "", 224, ClassLabels.All);
        public string Device => "test";
        public IReadOnlyList<ClassScores> Classify(IReadOnlyList<DecodedImage> images) => throw new InvalidOperationException("not used");
        public void Dispose() { }
    }

    private static Policy WithShare(double enabled) => Policy.Default with
    {
        Banks = new Dictionary<string, PolicyBankRule>(StringComparer.Ordinal) { ["new-list"] = new() { Action = Actions.Takedown, Enabled = enabled } },
        BankFloods = new PolicyBankFloods { Window = "10m", MaxUploads = MaxUploads },
    };

    private static BankSignal Match() => BankSignal.FromHits([new BankHit("new-list", "h-meme", 3)], 90);

    [Fact]
    public async Task Matches_outside_a_trial_share_do_not_count_toward_flood_quarantine_and_matches_inside_it_do()
    {
        await using var redis = await RedisConnector.ConnectAsync(_server.Configuration);
        var floods = new RedisBankFloods(redis);
        await using var batcher = new DynamicBatcher(new Unused());
        var services = new ScreenerServices { Batcher = batcher, Stats = new ScreeningStats(), Logger = NullLogger.Instance, BankFloods = floods };

        // A 30% trial: pick uploads on both sides of the share by the same content-id bucket the decider uses.
        var policy = WithShare(0.3);
        var rule = policy.BankRule("new-list");
        var ids = Enumerable.Range(0, 400).Select(i => $"c-{i}").ToList();
        var outside = ids.Where(id => !rule.ActsOn(id)).Take(10).ToList();
        var inside = ids.Where(rule.ActsOn).Take(MaxUploads + 1).ToList();
        Assert.Equal((10, MaxUploads + 1), (outside.Count, inside.Count));

        // Ten uploads the trial leaves out: five times the flood limit, and the entry is not quarantined.
        foreach (var id in outside)
            Assert.DoesNotContain((await services.WithFloodsAsync(policy, Match(), id, Ct)).Hits, h => h.Quarantined);
        Assert.Empty(await floods.ListAsync());

        // The uploads it acts on count: the one past the limit quarantines the entry.
        for (int i = 0; i < MaxUploads; i++)
            Assert.False(Assert.Single((await services.WithFloodsAsync(policy, Match(), inside[i], Ct)).Hits).Quarantined);
        Assert.True(Assert.Single((await services.WithFloodsAsync(policy, Match(), inside[MaxUploads], Ct)).Hits).Quarantined);
        var listed = Assert.Single(await floods.ListAsync());
        Assert.Equal(("new-list", "h-meme", MaxUploads + 1), (listed.Bank, listed.Id, listed.Uploads));

        // Once quarantined, a match outside the share is marked too (its trial decision is the review the bank would give),
        // and still not counted.
        var later = Assert.Single((await services.WithFloodsAsync(policy, Match(), outside[0], Ct)).Hits);
        Assert.True(later.Quarantined);
        Assert.Equal(MaxUploads + 1, Assert.Single(await floods.ListAsync()).Uploads);
        Assert.Equal(Actions.Review, Decider.BankAction(policy.ForBankTrial(), later));
    }

    [Fact]
    public async Task An_observe_only_bank_never_floods()
    {
        await using var redis = await RedisConnector.ConnectAsync(_server.Configuration);
        var floods = new RedisBankFloods(redis);
        await using var batcher = new DynamicBatcher(new Unused());
        var services = new ScreenerServices { Batcher = batcher, Stats = new ScreeningStats(), Logger = NullLogger.Instance, BankFloods = floods };

        var observeOnly = WithShare(0);
        for (int i = 0; i < 3 * MaxUploads; i++)
            Assert.False(Assert.Single((await services.WithFloodsAsync(observeOnly, Match(), $"u-{i}", Ct)).Hits).Quarantined);
        Assert.Empty(await floods.ListAsync());

        // The same matches under the bank acting on every upload: the control, quarantined past the limit.
        var acting = WithShare(1);
        for (int i = 0; i < MaxUploads; i++) await services.WithFloodsAsync(acting, Match(), $"u-{i}", Ct);
        Assert.True(Assert.Single((await services.WithFloodsAsync(acting, Match(), $"u-{MaxUploads}", Ct)).Hits).Quarantined);
    }
}
