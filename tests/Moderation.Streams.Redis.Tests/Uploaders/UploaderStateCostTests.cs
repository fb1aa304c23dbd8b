using System.Globalization;
using Moderation.Streams.Contracts;
using Moderation.Streams.Redis.Tests.Servers;
using Moderation.Streams.Redis.Uploaders;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.Tests.Uploaders;

/// <summary>What one count costs the server, by the commands it runs (redis-server's <c>INFO commandstats</c> counts those a
/// script calls): a copy of a picture already looked up (the common cache hit) reads its near list and its uploaders, not
/// its 16 campaign buckets; a picture seen for the first time reads the buckets.</summary>
public sealed class UploaderStateCostTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static PolicyUploaders Rules => UploaderTestRules.Rules;

    private const string Picture = UploaderTestRules.Picture;
    private const string Other = "fedcba98765432100123456789abcdef8877665544332211f0e1d2c3b4a59687";

    /// <summary>The server to read INFO from, and a store where three uploaders already uploaded <see cref="Picture"/>.</summary>
    private static async Task<(StackExchange.Redis.IServer Admin, RedisUploaderState State)> ThreeUploadsOfPictureAsync(StackExchange.Redis.IConnectionMultiplexer redis)
    {
        var state = new RedisUploaderState(redis, "cost:");
        for (int i = 0; i < 3; i++) await state.CountAsync(new UploaderCount($"c-{i}", $"u-{i}", Picture, Rules), Ct);
        return (redis.GetServers()[0], state);
    }

    [Fact]
    public async Task A_copy_of_a_picture_already_looked_up_does_not_read_or_raise_its_campaign_buckets()
    {
        await using var server = await RedisServerProcess.StartAsync(Ct);
        await using var redis = await RedisConnector.ConnectAsync(server.Configuration);
        var (admin, state) = await ThreeUploadsOfPictureAsync(redis);

        await admin.ExecuteAsync("CONFIG", "RESETSTAT");
        var copy = await state.CountAsync(new UploaderCount("c-3", "u-3", Picture, Rules), Ct);
        var copyCalls = await Calls(admin);
        Assert.Equal(4, copy.CampaignUploaders);
        Assert.Equal(UploaderScripts.Auto, state.Scripts);
        // The uploader's velocity and filed ids and the picture's uploaders: three adds, one read of the near list; the
        // picture has no near one, so its uploaders are counted (ZCOUNT, beside velocity's and strikes') and this one looked
        // up (ZSCORE), not read; no bucket read or raise (and no strike to look at).
        Assert.Equal((3L, 1L, 0L, 3L, 1L), (copyCalls.GetValueOrDefault("zadd"), copyCalls.GetValueOrDefault("zrange"),
            copyCalls.GetValueOrDefault("zrevrangebyscore"), copyCalls.GetValueOrDefault("zcount"), copyCalls.GetValueOrDefault("zscore")));

        await admin.ExecuteAsync("CONFIG", "RESETSTAT");
        var first = await state.CountAsync(new UploaderCount("c-4", "u-4", Other, Rules), Ct);
        var firstCalls = await Calls(admin);
        Assert.Equal(1, first.CampaignUploaders);
        // A picture seen for the first time: 16 bucket reads (nothing near: its uploaders counted, not read); 16 bucket
        // raises, its near list, its uploader, the uploader's velocity and filed ids.
        Assert.Equal((16L + 1 + 3, 16L), (firstCalls.GetValueOrDefault("zadd"), firstCalls.GetValueOrDefault("zrevrangebyscore")));
    }

    [Fact]
    public async Task A_batch_is_one_script_call_that_runs_each_uploads_commands()
    {
        await using var server = await RedisServerProcess.StartAsync(Ct);
        await using var redis = await RedisConnector.ConnectAsync(server.Configuration);
        var (admin, state) = await ThreeUploadsOfPictureAsync(redis);

        await admin.ExecuteAsync("CONFIG", "RESETSTAT");
        var copies = await state.CountManyAsync([.. Enumerable.Range(3, 8).Select(i => new UploaderCount($"c-{i}", $"u-{i}", Picture, Rules))], Ct);
        var calls = await Calls(admin);
        Assert.Equal(Enumerable.Range(4, 8), copies.Select(c => c.CampaignUploaders!.Value));
        Assert.Equal(1L, calls.GetValueOrDefault("evalsha") + calls.GetValueOrDefault("eval"));
        // Eight copies: eight times one copy's commands (above), in the one call.
        Assert.Equal((8 * 3L, 8L, 8 * 3L, 8L), (calls.GetValueOrDefault("zadd"), calls.GetValueOrDefault("zrange"), calls.GetValueOrDefault("zcount"),
            calls.GetValueOrDefault("zscore")));
    }

    /// <summary>Calls per command since the last <c>CONFIG RESETSTAT</c>, from <c>INFO commandstats</c>.</summary>
    private static async Task<Dictionary<string, long>> Calls(IServer admin)
    {
        var calls = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var group in await admin.InfoAsync("commandstats"))
        {
            foreach (var (key, value) in group)
            {
                // cmdstat_zadd:calls=3,usec=…
                if (!key.StartsWith("cmdstat_", StringComparison.Ordinal)) continue;
                var field = value.Split(',').First(f => f.StartsWith("calls=", StringComparison.Ordinal));
                calls[key["cmdstat_".Length..]] = long.Parse(field["calls=".Length..], CultureInfo.InvariantCulture);
            }
        }
        return calls;
    }
}
