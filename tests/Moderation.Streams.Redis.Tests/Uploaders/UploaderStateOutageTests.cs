using Moderation.Streams.Contracts;
using Moderation.Streams.Redis.Tests.Servers;
using Moderation.Streams.Redis.Uploaders;

namespace Moderation.Streams.Redis.Tests.Uploaders;

/// <summary>A dead store costs a quick <see cref="StoreUnavailableException"/>, never a hang, for counts and strikes.</summary>
public sealed class UploaderStateOutageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_dead_store_fails_counts_and_strikes_fast_and_they_work_again_after_restart()
    {
        await using var server = await RedisServerProcess.StartAsync(Ct);
        await using var redis = await RedisConnector.ConnectAsync(server.Configuration);
        var state = new RedisUploaderState(redis, "outage:");
        var rules = new PolicyUploaders { Strikes = new PolicyCountRule { Window = "1d", ReviewAt = 2 } };
        Assert.Equal(0, (await state.CountAsync(new UploaderCount("c-1", "u-1", null, rules), Ct)).Strikes);

        await server.StopAsync();
        var guard = TimeSpan.FromSeconds(10); // hang guard only
        await Assert.ThrowsAsync<StoreUnavailableException>(() => state.CountAsync(new UploaderCount("c-2", "u-1", null, rules), Ct).WaitAsync(guard, Ct));
        await Assert.ThrowsAsync<StoreUnavailableException>(() => state.RecordStrikeAsync("u-1", "c-2", TimeSpan.FromDays(1), Ct).WaitAsync(guard, Ct));

        await server.RestartAsync(Ct);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                await state.RecordStrikeAsync("u-1", "c-3", TimeSpan.FromDays(1), Ct);
                break;
            }
            catch (StoreUnavailableException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200, Ct);
            }
        }
        Assert.Equal(1, (await state.CountAsync(new UploaderCount("c-4", "u-1", null, rules), Ct)).Strikes);
    }
}
