using System.Net;
using System.Net.Sockets;
using Garnet;
using Moderation.Streams.Contracts;
using Moderation.Streams.Redis.Tests.Servers;
using Moderation.Streams.Redis.Uploaders;
using StackExchange.Redis;

namespace Moderation.Streams.Redis.Tests.Uploaders;

/// <summary>A server that refuses scripts (Garnet without <c>--lua true</c>, a Redis whose ACL denies EVAL) turns the counts
/// to plain commands at its first refusal: the count that met it is still answered, and right.</summary>
public sealed class UploaderStateWithoutScriptsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static PolicyUploaders Rules => UploaderTestRules.Rules;

    private const string Picture = UploaderTestRules.Picture;

    [Fact]
    public async Task Garnet_without_lua_is_counted_with_plain_commands()
    {
        int port = FreePort();
        using var server = new GarnetServer(["--bind", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-q"]);
        server.Start();
        await using var redis = await RedisConnector.ConnectAsync($"127.0.0.1:{port}");
        await CountsFallBackToPlainCommands(redis);
    }

    [Fact]
    public async Task Redis_whose_acl_denies_scripts_is_counted_with_plain_commands()
    {
        await using var server = await RedisServerProcess.StartAsync(Ct);
        await using var redis = await RedisConnector.ConnectAsync(server.Configuration);
        await redis.GetServers()[0].ExecuteAsync("ACL", "SETUSER", "default", "-eval", "-evalsha");
        await CountsFallBackToPlainCommands(redis);
    }

    [Fact]
    public async Task A_server_busy_with_another_script_fails_the_count_but_keeps_scripts_on()
    {
        await using var server = await RedisServerProcess.StartAsync(Ct);
        await using var redis = await RedisConnector.ConnectAsync(server.Configuration);
        await using var other = await RedisConnector.ConnectAsync(server.Configuration + ",syncTimeout=30000,asyncTimeout=30000");
        await redis.GetServers()[0].ExecuteAsync("CONFIG", "SET", "busy-reply-threshold", "50");
        var state = new RedisUploaderState(redis, "busy:");
        // Another client's script holds the server for 4 s of its clock; past 50 ms every other command is answered BUSY.
        var hold = other.GetDatabase().ScriptEvaluateAsync("""
            local t = redis.call('TIME')
            local stop = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000 + 4000
            repeat t = redis.call('TIME') until tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000 >= stop
            return 1
            """);
        var deadline = DateTime.UtcNow.AddSeconds(3); // poll guard only
        while (true)
        {
            try
            {
                await redis.GetDatabase().PingAsync();
            }
            catch (RedisServerException e) when (e.Message.StartsWith("BUSY", StringComparison.Ordinal))
            {
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, "the server never answered BUSY");
            await Task.Delay(10, Ct);
        }
        await Assert.ThrowsAsync<StoreUnavailableException>(() => state.CountAsync(new UploaderCount("c-1", "u-1", Picture, Rules), Ct));
        Assert.Equal((UploaderScripts.Auto, (string?)null), (state.Scripts, state.ScriptsRefused));
        Assert.Equal(1, (long)(await hold)!);
        Assert.Equal(1, (await state.CountAsync(new UploaderCount("c-1", "u-1", Picture, Rules), Ct)).Velocity);
        Assert.Equal(UploaderScripts.Auto, state.Scripts);
    }

    private static async Task CountsFallBackToPlainCommands(IConnectionMultiplexer redis)
    {
        foreach (var mode in new[] { UploaderScripts.Auto, UploaderScripts.PerSlot })
        {
            var state = new RedisUploaderState(redis, $"t-{Guid.NewGuid():N}:", scripts: mode);
            var first = await state.CountAsync(new UploaderCount("c-1", "u-1", Picture, Rules), Ct);
            Assert.Equal(UploaderScripts.Off, state.Scripts);
            Assert.NotNull(state.ScriptsRefused);
            Assert.Equal((1, 0, 1), (first.Velocity!.Value, first.Strikes!.Value, first.CampaignUploaders!.Value));
            var second = await state.CountAsync(new UploaderCount("c-2", "u-2", Picture, Rules), Ct);
            Assert.Equal((1, 2), (second.Velocity!.Value, second.CampaignUploaders!.Value));
        }
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
