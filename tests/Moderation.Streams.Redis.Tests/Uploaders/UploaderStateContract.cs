using Microsoft.Extensions.Time.Testing;
using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;
using Moderation.Streams.Redis.Tests.Servers;
using Moderation.Streams.Redis.Uploaders;

namespace Moderation.Streams.Redis.Tests.Uploaders;

/// <summary>The shared uploader and campaign counters on every Redis-protocol server we support, on a fake clock:
/// windows slide, each upload counts once however often it is delivered, and campaigns count distinct uploaders of
/// near-identical pictures.</summary>
public abstract class UploaderStateContract(IStoreFixture store)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 10, 0, 0, TimeSpan.Zero));
    private readonly string _prefix = $"t-{Guid.NewGuid():N}:";

    private static readonly PolicyUploaders Rules = new()
    {
        Strikes = new PolicyCountRule { Window = "7d", ReviewAt = 3 },
        Velocity = new PolicyCountRule { Window = "1m", ReviewAt = 30 },
        Campaigns = new PolicyCampaignRule { Window = "1h", DistinctUploaders = 5, MaxDistance = 31 },
    };

    private RedisUploaderState NewState() => new(store.Redis, _prefix, _time);

    private static readonly PdqHash Picture = new(0x0123456789abcdefUL, 0xfedcba9876543210UL, 0x0f1e2d3c4b5a6978UL, 0x8877665544332211UL);

    /// <summary><see cref="Picture"/> with one bit flipped in each of the first <paramref name="segments"/> 16-bit segments.</summary>
    private static string Flipped(int segments, int bitInSegment = 3)
    {
        Span<ulong> w = stackalloc ulong[4];
        Picture.CopyTo(w);
        for (int s = 0; s < segments; s++) w[s / 4] ^= 1UL << (16 * (s % 4) + bitInSegment);
        return new PdqHash(w[0], w[1], w[2], w[3]).ToString();
    }

    private Task<UploaderSignal> Count(RedisUploaderState state, string content, string? uploader, string? pdq = null, PolicyUploaders? rules = null, bool record = true) =>
        state.CountAsync(new UploaderCount(content, uploader, pdq, rules ?? Rules, record), Ct);

    [Fact]
    public async Task Velocity_counts_each_upload_once_in_a_sliding_window()
    {
        var state = NewState();
        for (int i = 1; i <= 3; i++)
        {
            Assert.Equal(i, (await Count(state, $"c-{i}", "u-1")).Velocity);
            _time.Advance(TimeSpan.FromSeconds(20));
        }
        // 60 s after c-1 it has left the 1-minute window; c-3, redelivered after a crash or replayed, is not counted again.
        Assert.Equal(2, (await Count(state, "c-3", "u-1")).Velocity);
        Assert.Equal(3, (await Count(state, "c-4", "u-1")).Velocity);
        Assert.Equal(1, (await Count(state, "c-1", "u-2")).Velocity); // uploaders are apart
        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(1, (await Count(state, "c-5", "u-1")).Velocity);
    }

    [Fact]
    public async Task Strikes_count_takedowns_before_this_upload_once_each_within_their_window()
    {
        var state = NewState();
        Assert.Equal(0, (await Count(state, "c-1", "u-1")).Strikes);
        await state.RecordStrikeAsync("u-1", "c-1", Rules.Strikes!.Span, Ct);
        await state.RecordStrikeAsync("u-1", "c-1", Rules.Strikes.Span, Ct); // decided twice: one strike
        _time.Advance(TimeSpan.FromDays(1));
        await state.RecordStrikeAsync("u-1", "c-2", Rules.Strikes.Span, Ct);
        Assert.Equal(2, (await Count(state, "c-3", "u-1")).Strikes);
        // A redelivered upload that was a strike does not count against itself.
        Assert.Equal(1, (await Count(state, "c-2", "u-1")).Strikes);
        Assert.Equal(0, (await Count(state, "c-9", "u-2")).Strikes);
        _time.Advance(TimeSpan.FromDays(6.5)); // c-1 is 7.5 days old, c-2 6.5
        Assert.Equal(1, (await Count(state, "c-4", "u-1")).Strikes);
    }

    [Fact]
    public async Task A_campaign_counts_distinct_uploaders_of_near_identical_pictures_in_its_window()
    {
        var state = NewState();
        var same = Picture.ToString();
        Assert.Equal(1, (await Count(state, "c-1", "u-1", same)).CampaignUploaders);
        Assert.Equal(1, (await Count(state, "c-2", "u-1", same)).CampaignUploaders); // the same uploader again
        Assert.Equal(2, (await Count(state, "c-3", "u-2", Flipped(12))).CampaignUploaders); // re-encoded: 12 bits away
        Assert.Equal(3, (await Count(state, "c-4", "u-3", Flipped(15))).CampaignUploaders); // 15 bits: always found
        Assert.Equal(3, (await Count(state, "c-4", "u-3", Flipped(15))).CampaignUploaders); // redelivered: still 3
        // Another picture, far from this one: a campaign of its own.
        var other = new PdqHash(~0x0123456789abcdefUL, 0x1111111111111111UL, 0x2222222222222222UL, 0x3333333333333333UL).ToString();
        Assert.Equal(1, (await Count(state, "c-5", "u-4", other)).CampaignUploaders);
        Assert.Equal(4, (await Count(state, "c-6", "u-5", same)).CampaignUploaders);
        _time.Advance(TimeSpan.FromMinutes(61));
        Assert.Equal(1, (await Count(state, "c-7", "u-6", same)).CampaignUploaders);
    }

    [Fact]
    public async Task A_campaign_respects_the_rules_distance_and_misses_what_the_index_documents_it_may_miss()
    {
        var state = NewState();
        await Count(state, "c-1", "u-1", Picture.ToString());
        var near = Rules with { Campaigns = Rules.Campaigns! with { MaxDistance = 10 } };
        Assert.Equal(1, (await Count(state, "c-2", "u-2", Flipped(12), near)).CampaignUploaders); // 12 > 10
        // 9 bits from the first, 21 from the second (other bits flipped): one match.
        Assert.Equal(2, (await Count(state, "c-3", "u-3", Flipped(9, bitInSegment: 5), near)).CampaignUploaders);
        // 16 bits away with one flip in every segment: no segment is shared, so the index does not find it (documented).
        var fresh = NewStateWithOwnPrefix();
        await Count(fresh, "c-1", "u-1", Picture.ToString());
        Assert.Equal(1, (await Count(fresh, "c-2", "u-2", Flipped(16))).CampaignUploaders);
    }

    private RedisUploaderState NewStateWithOwnPrefix() => new(store.Redis, $"t-{Guid.NewGuid():N}:", _time);

    [Fact]
    public async Task Reading_without_recording_writes_nothing_and_counts_the_upload_as_if_added()
    {
        var state = NewState();
        await Count(state, "c-1", "u-1", Picture.ToString());
        var read = await Count(state, "c-2", "u-2", Picture.ToString(), record: false);
        Assert.Equal((1, 2), (read.Velocity!.Value, read.CampaignUploaders!.Value));
        Assert.Equal(1, (await Count(state, "c-3", "u-1", record: false)).Velocity is 2 ? 1 : 0);
        // Nothing of c-2 or c-3 was stored.
        Assert.Equal(2, (await Count(state, "c-4", "u-1")).Velocity);
        Assert.Equal(1, (await Count(state, "c-5", "u-2")).Velocity);
    }

    [Fact]
    public async Task Nothing_is_counted_without_an_uploader_or_a_rule()
    {
        var state = NewState();
        Assert.Same(UploaderSignal.NotCounted, await Count(state, "c-1", null, Picture.ToString()));
        Assert.Same(UploaderSignal.NotCounted, await Count(state, "c-1", "u-1", rules: new PolicyUploaders()));
        // Only a campaign rule, and no usable hash (a text item): nothing to count either.
        Assert.Same(UploaderSignal.NotCounted, await Count(state, "c-1", "u-1", "not-a-hash", new PolicyUploaders { Campaigns = Rules.Campaigns }));
        var onlyVelocity = await Count(state, "c-1", "u-1", Picture.ToString(), new PolicyUploaders { Velocity = Rules.Velocity });
        Assert.Equal((1, (int?)null, (int?)null), (onlyVelocity.Velocity!.Value, onlyVelocity.Strikes, onlyVelocity.CampaignUploaders));
    }

    [Fact]
    public async Task One_uploaders_keys_share_a_cluster_slot()
    {
        var state = NewState();
        Assert.Equal(ClusterSlot.Of(state.VelocityKey("u-1")), ClusterSlot.Of(state.StrikesKey("u-1")));
        await Task.CompletedTask;
    }
}

public sealed class Uploader_state_on_redis_server(RedisServerFixture store)
    : UploaderStateContract(store), IClassFixture<RedisServerFixture>;

public sealed class Uploader_state_on_garnet(GarnetServerFixture store)
    : UploaderStateContract(store), IClassFixture<GarnetServerFixture>;
