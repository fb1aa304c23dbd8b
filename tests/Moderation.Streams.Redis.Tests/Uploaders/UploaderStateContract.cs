using Microsoft.Extensions.Time.Testing;
using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;
using Moderation.Streams.Redis.Tests.Servers;
using Moderation.Streams.Redis.Uploaders;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.Tests.Uploaders;

/// <summary>The shared uploader and campaign counters on every Redis-protocol server we support, on a fake clock:
/// windows slide, each upload counts once however often it is delivered, and campaigns count distinct uploaders of
/// near-identical pictures. Every way of sending the counts (<see cref="UploaderScripts"/>) answers the same, over the
/// same keys.</summary>
public abstract class UploaderStateContract(IStoreFixture store, UploaderScripts scripts)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 10, 0, 0, TimeSpan.Zero));
    private readonly string _prefix = $"t-{Guid.NewGuid():N}:";

    private static PolicyUploaders Rules => UploaderTestRules.Rules;

    private RedisUploaderState NewState(UploaderScripts? mode = null) => new(store.Redis, _prefix, _time, scripts: mode ?? scripts);

    private static readonly PdqHash Picture = new(0x0123456789abcdefUL, 0xfedcba9876543210UL, 0x0f1e2d3c4b5a6978UL, 0x8877665544332211UL);

    /// <summary><see cref="Picture"/> with one bit flipped in each of the first <paramref name="segments"/> 16-bit segments.</summary>
    private static string Flipped(int segments, int bitInSegment = 3)
    {
        Span<ulong> w = stackalloc ulong[4];
        Picture.CopyTo(w);
        for (int s = 0; s < segments; s++) w[s / 4] ^= 1UL << (16 * (s % 4) + bitInSegment);
        return new PdqHash(w[0], w[1], w[2], w[3]).ToString();
    }

    private static async Task<UploaderSignal> Count(RedisUploaderState state, string content, string? uploader, string? pdq = null, PolicyUploaders? rules = null, bool record = true)
    {
        var mode = state.Scripts;
        var signal = await state.CountAsync(new UploaderCount(content, uploader, pdq, rules ?? Rules, record), Ct);
        // The server accepted the way it was asked to count: no test passes through a silent fallback.
        Assert.Equal((mode, (string?)null), (state.Scripts, state.ScriptsRefused));
        return signal;
    }

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

    [Fact]
    public async Task A_campaign_counts_a_picture_at_exactly_the_rules_distance_and_not_one_bit_further()
    {
        var near = Rules with { Campaigns = Rules.Campaigns! with { MaxDistance = 10 } };
        var state = NewState();
        await Count(state, "c-1", "u-1", Picture.ToString(), near);
        Assert.Equal(2, (await Count(state, "c-2", "u-2", Flipped(10), near)).CampaignUploaders);
        Assert.Equal(3, (await Count(state, "c-3", "u-3", Picture.ToString(), near)).CampaignUploaders);
        var further = NewStateWithOwnPrefix();
        await Count(further, "c-1", "u-1", Picture.ToString(), near);
        Assert.Equal(1, (await Count(further, "c-2", "u-2", Flipped(11), near)).CampaignUploaders);
        Assert.Equal(2, (await Count(further, "c-3", "u-3", Picture.ToString(), near)).CampaignUploaders);
    }

    private RedisUploaderState NewStateWithOwnPrefix() => new(store.Redis, $"t-{Guid.NewGuid():N}:", _time, scripts: scripts);

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
    public async Task A_redelivered_upload_keeps_its_first_time_in_the_campaign_and_a_new_one_moves_its_uploader_on()
    {
        var state = NewState();
        var same = Picture.ToString();
        await Count(state, "c-1", "u-1", same);
        await Count(state, "c-2", "u-2", same);
        _time.Advance(TimeSpan.FromMinutes(50));
        await Count(state, "c-1", "u-1", same); // redelivered 50 minutes later: still counted from its first time
        await Count(state, "c-3", "u-2", same); // a new upload by u-2: counted from now
        _time.Advance(TimeSpan.FromMinutes(11)); // c-1 and c-2 are 61 minutes old, c-3 11
        Assert.Equal(2, (await Count(state, "c-4", "u-3", same)).CampaignUploaders); // u-3 and u-2, not u-1
    }

    [Fact]
    public async Task A_campaign_lookup_reads_one_candidate_per_picture_and_uploader_however_many_copies()
    {
        var state = NewState();
        var same = Picture.ToString();
        for (int i = 0; i < 40; i++) await Count(state, $"c-{i}", $"u-{i % 3}", same);
        var db = store.Redis.GetDatabase();
        var segment = Picture.GetUInt16(0);
        if (scripts == UploaderScripts.PerSlot)
        {
            // Per slot: each bucket keeps the (picture, uploader) pairs and files every upload in the bucket's slot.
            Assert.Equal(3, await db.SortedSetLengthAsync(state.CampaignPairsKey(0, segment)));
            Assert.Equal(40, await db.SortedSetLengthAsync(state.CampaignKey(0, segment)));
            Assert.Equal(ClusterSlot.Of(state.CampaignKey(0, segment)), ClusterSlot.Of(state.CampaignPairsKey(0, segment)));
        }
        else
        {
            // The picture once in each of its 16 buckets, its uploaders once each on the picture, every upload filed per
            // uploader.
            for (int i = 0; i < 16; i++) Assert.Equal(1, await db.SortedSetLengthAsync(state.CampaignBucketKey(i, Picture.GetUInt16(i))));
            Assert.Equal(3, await db.SortedSetLengthAsync(state.CampaignPictureKey(same)));
            Assert.Equal(14, await db.SortedSetLengthAsync(state.CampaignFiledKey("u-0")));
        }
        Assert.Equal(4, (await Count(state, "c-x", "u-9", same)).CampaignUploaders);
    }

    [Fact]
    public async Task Writes_trim_what_left_the_window_while_reads_stay_exact_between_trims()
    {
        var state = NewState();
        var rules = new PolicyUploaders { Velocity = Rules.Velocity };
        for (int i = 0; i < 10; i++) await Count(state, $"old-{i}", "u-1", rules: rules);
        _time.Advance(TimeSpan.FromMinutes(2));
        // A write trims on one in TrimEvery (8) on average: after 200 writes, untrimmed means odds of (7/8)^200, ~3e-12.
        for (int i = 1; i <= 200; i++) Assert.Equal(i, (await Count(state, $"new-{i}", "u-1", rules: rules)).Velocity);
        var db = store.Redis.GetDatabase();
        Assert.All(Enumerable.Range(0, 10), i => Assert.Null(db.SortedSetScore(state.VelocityKey("u-1"), $"old-{i}")));
        Assert.True(await db.KeyTimeToLiveAsync(state.VelocityKey("u-1")) is { } ttl && ttl <= TimeSpan.FromSeconds(61), "the key expires with its window");
    }

    [Fact]
    public async Task A_strike_of_this_content_older_than_the_window_does_not_count_against_it()
    {
        var state = NewState();
        await state.RecordStrikeAsync("u-1", "c-1", Rules.Strikes!.Span, Ct);
        _time.Advance(TimeSpan.FromDays(8)); // left the window, not trimmed yet (no write since)
        Assert.Equal(0, (await Count(state, "c-1", "u-1")).Strikes);
    }

    [Fact]
    public async Task A_near_picture_first_uploaded_after_a_picture_was_looked_up_is_counted_with_its_copies()
    {
        // One script keeps, per picture, the near pictures its first lookup found; a near picture that comes later finds
        // it in the buckets and joins its list, so the copies that follow (which no longer read the buckets) count it.
        var state = NewState();
        var same = Picture.ToString();
        Assert.Equal(1, (await Count(state, "c-1", "u-1", same)).CampaignUploaders);
        Assert.Equal(2, (await Count(state, "c-2", "u-2", same)).CampaignUploaders);
        Assert.Equal(3, (await Count(state, "c-3", "u-3", Flipped(12))).CampaignUploaders);
        Assert.Equal(4, (await Count(state, "c-4", "u-4", same)).CampaignUploaders);
        Assert.Equal(5, (await Count(state, "c-5", "u-5", Flipped(15, bitInSegment: 7))).CampaignUploaders);
        Assert.Equal(6, (await Count(state, "c-6", "u-6", Flipped(12))).CampaignUploaders);
        Assert.Equal(7, (await Count(state, "c-7", "u-7", same)).CampaignUploaders);
        // A far picture joins nothing.
        var other = new PdqHash(~0x0123456789abcdefUL, 0x1111111111111111UL, 0x2222222222222222UL, 0x3333333333333333UL).ToString();
        Assert.Equal(1, (await Count(state, "c-8", "u-8", other)).CampaignUploaders);
        Assert.Equal(8, (await Count(state, "c-9", "u-9", same)).CampaignUploaders);
        // Left the window: only the new upload's uploader and those of the last hour.
        _time.Advance(TimeSpan.FromMinutes(61));
        Assert.Equal(1, (await Count(state, "c-10", "u-1", Flipped(12))).CampaignUploaders);
        Assert.Equal(2, (await Count(state, "c-11", "u-2", same)).CampaignUploaders);
    }

    [Fact]
    public async Task A_pictures_near_list_is_made_again_once_it_is_a_window_old_on_the_workers_clock()
    {
        // The near picture comes after the first picture left even the buckets' wider reach, so it does not find the
        // first; the first's next copy must look again (the server's expiry runs on its own clock, not the worker's).
        var state = NewState();
        Assert.Equal(1, (await Count(state, "c-1", "u-1", Picture.ToString())).CampaignUploaders);
        _time.Advance(TimeSpan.FromMinutes(70));
        Assert.Equal(1, (await Count(state, "c-2", "u-2", Flipped(12))).CampaignUploaders);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(2, (await Count(state, "c-3", "u-3", Picture.ToString())).CampaignUploaders);
    }

    [Fact]
    public async Task A_full_near_list_is_dropped_rather_than_grown()
    {
        var state = NewState();
        var same = Picture.ToString();
        await Count(state, "c-1", "u-1", same);
        // The picture's list already holds itself and MaxNearPictures others (far pictures nobody uploaded).
        var db = store.Redis.GetDatabase();
        var key = state.CampaignNearKey(same, Rules.Campaigns!.MaxDistance);
        long now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        await db.SortedSetAddAsync(key, [new SortedSetEntry(same, now), .. Enumerable.Range(0, RedisUploaderState.MaxNearPictures).Select(i => new SortedSetEntry($"{i:x64}", now))]);
        Assert.Equal(2, (await Count(state, "c-2", "u-2", Flipped(12))).CampaignUploaders);
        // One more would overfill it: dropped (plain commands drop it too, as a list that does not know the new picture;
        // per slot never reads or writes near lists).
        Assert.Equal(scripts == UploaderScripts.PerSlot, await db.KeyExistsAsync(key));
        Assert.Equal(3, (await Count(state, "c-3", "u-3", same)).CampaignUploaders);
    }

    [Fact]
    public async Task One_script_and_plain_commands_share_the_same_keys()
    {
        // The fallback (a server that refuses scripts) and one script read and write the same keys; PerSlot (a cluster's
        // workers) files per bucket.
        var modes = new[] { UploaderScripts.Auto, UploaderScripts.Off };
        var same = Picture.ToString();
        for (int i = 0; i < 6; i++)
        {
            var state = NewState(modes[i % 2]);
            var signal = await Count(state, $"c-{i}", $"u-{i % 4}", same);
            // u-0 and u-1 upload twice (i = 4, 5): their velocity counts both; the campaign counts u-0 to u-3.
            Assert.Equal((i / 4 + 1, Math.Min(i + 1, 4)), (signal.Velocity!.Value, signal.CampaignUploaders!.Value));
        }
        // A near picture first seen by plain commands (which keep no near lists) drops the lists that do not know it.
        var script = NewState(UploaderScripts.Auto);
        Assert.Equal(5, (await Count(script, "c-6", "u-5", same)).CampaignUploaders);
        Assert.Equal(6, (await Count(NewState(UploaderScripts.Off), "c-7", "u-6", Flipped(12))).CampaignUploaders);
        Assert.Equal(7, (await Count(script, "c-8", "u-7", same)).CampaignUploaders);
    }

    [Fact]
    public async Task A_batch_of_uploads_from_several_uploaders_gets_the_answers_one_by_one_would()
    {
        // The same history, then the same uploads: one by one on one prefix, as one batch on another.
        var oneByOne = NewState();
        var batched = NewStateWithOwnPrefix();
        foreach (var state in new[] { oneByOne, batched })
        {
            await Count(state, "h-1", "u-1", Picture.ToString());
            await Count(state, "h-2", "u-2", Flipped(12));
            await state.RecordStrikeAsync("u-1", "h-1", Rules.Strikes!.Span, Ct);
            await state.RecordStrikeAsync("u-3", "c-4", Rules.Strikes.Span, Ct);
        }
        _time.Advance(TimeSpan.FromMinutes(1));
        var same = Picture.ToString();
        var far = new PdqHash(~0x0123456789abcdefUL, 0x1111111111111111UL, 0x2222222222222222UL, 0x3333333333333333UL).ToString();
        UploaderCount[] uploads =
        [
            new("c-1", "u-3", same, Rules), new("c-2", "u-1", same, Rules), new("c-3", "u-4", Flipped(15), Rules),
            new("c-2", "u-1", same, Rules), // redelivered within the batch
            new("c-4", "u-3", null, Rules), // a text item of an uploader with a strike on it
            new("c-5", "u-5", far, Rules), new("c-6", "u-6", far, Rules), new("c-7", "u-7", same, Rules, Record: false),
            new("c-8", null, same, Rules), // no uploader: not counted
            new("c-9", "u-8", same, new PolicyUploaders { Velocity = Rules.Velocity }),
            new("c-10", "u-9", Flipped(12), Rules), new("c-11", "u-1", "not-a-hash", Rules),
        ];
        var expected = new List<UploaderSignal>();
        foreach (var upload in uploads) expected.Add(await oneByOne.CountAsync(upload, Ct));
        var mode = batched.Scripts;
        var answers = await batched.CountManyAsync(uploads, Ct);
        Assert.Equal((mode, (string?)null), (batched.Scripts, batched.ScriptsRefused));
        Assert.Equal(expected, answers);
        // The answers are not trivial: the campaign grew along the batch, the redelivery did not grow it.
        Assert.Equal([3, 3, 4, 4], answers.Take(4).Select(a => a.CampaignUploaders!.Value));
        // u-3's strike is c-4's own: it counts against c-1, not against c-4.
        Assert.Equal((1, 0, 1), (answers[0].Strikes!.Value, answers[4].Strikes!.Value, answers[1].Strikes!.Value));
        Assert.Same(UploaderSignal.NotCounted, answers[8]);
        // And the batch wrote what one by one wrote: the next upload, alone, gets the same answer on both.
        Assert.Equal(await oneByOne.CountAsync(new UploaderCount("c-12", "u-10", same, Rules), Ct), await batched.CountAsync(new UploaderCount("c-12", "u-10", same, Rules), Ct));
    }

    [Fact]
    public async Task One_uploaders_keys_share_a_cluster_slot()
    {
        var state = NewState();
        Assert.Equal(ClusterSlot.Of(state.VelocityKey("u-1")), ClusterSlot.Of(state.StrikesKey("u-1")));
        Assert.Equal(ClusterSlot.Of(state.VelocityKey("u-1")), ClusterSlot.Of(state.CampaignFiledKey("u-1")));
        await Task.CompletedTask;
    }
}

public sealed class Uploader_state_on_redis_server(RedisServerFixture store)
    : UploaderStateContract(store, UploaderScripts.Auto), IClassFixture<RedisServerFixture>;

public sealed class Uploader_state_on_redis_server_per_slot(RedisServerFixture store)
    : UploaderStateContract(store, UploaderScripts.PerSlot), IClassFixture<RedisServerFixture>;

public sealed class Uploader_state_on_redis_server_without_scripts(RedisServerFixture store)
    : UploaderStateContract(store, UploaderScripts.Off), IClassFixture<RedisServerFixture>;

public sealed class Uploader_state_on_garnet(GarnetServerFixture store)
    : UploaderStateContract(store, UploaderScripts.Auto), IClassFixture<GarnetServerFixture>;

public sealed class Uploader_state_on_garnet_per_slot(GarnetServerFixture store)
    : UploaderStateContract(store, UploaderScripts.PerSlot), IClassFixture<GarnetServerFixture>;

public sealed class Uploader_state_on_garnet_without_scripts(GarnetServerFixture store)
    : UploaderStateContract(store, UploaderScripts.Off), IClassFixture<GarnetServerFixture>;
