using System.Text.Json;
using Moderation.Streams.Contracts;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;

namespace Moderation.Streams.Cli.Tests;

/// <summary><c>bank quarantined</c> and <c>bank release</c> as an operator runs them.</summary>
public sealed class BankQuarantineCommandTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Quarantined_entries_are_listed_and_a_release_gives_them_back()
    {
        await using var redis = Embedded.EmbeddedRedisServer.Start();
        var config = redis.Configuration + ",syncTimeout=15000,asyncTimeout=15000";
        await using (var connection = await RedisConnector.ConnectAsync(config))
        {
            var floods = new RedisBankFloods(connection);
            for (int i = 0; i < 3; i++)
                await floods.CountAsync([("known-bad", "meme")], $"c-{i}", "10m", TimeSpan.FromMinutes(10), maxUploads: 2, Ct);
        }

        var started = new List<CliProcess>();
        async Task<(int ExitCode, IReadOnlyList<string> StdoutLines, IReadOnlyList<string> StderrLines)> Run(params string[] args)
        {
            var cli = await CliProcess.RunAsync(["bank", .. args, "--redis", config], ct: Ct);
            started.Add(cli);
            int code = await cli.WaitForExitAsync(ct: Ct);
            return (code, cli.StdoutLines, cli.StderrLines);
        }

        var listed = await Run("quarantined", "--json");
        Assert.Equal(ExitCodes.Ok, listed.ExitCode);
        using (var json = JsonDocument.Parse(Assert.Single(listed.StdoutLines)))
        {
            var e = json.RootElement;
            Assert.Equal(("known-bad", "meme", 3, "10m"), (e.GetProperty("bank").GetString(), e.GetProperty("id").GetString(), e.GetProperty("uploads").GetInt32(), e.GetProperty("window").GetString()));
        }
        var plain = await Run("quarantined");
        Assert.StartsWith("known-bad\tmeme\t3 uploads in 10m\tsince ", Assert.Single(plain.StdoutLines));

        var released = await Run("release", "--bank", "known-bad", "--id", "meme");
        Assert.Equal((ExitCodes.Ok, "released known-bad/meme"), (released.ExitCode, Assert.Single(released.StdoutLines)));
        Assert.Empty((await Run("quarantined", "--json")).StdoutLines);

        var again = await Run("release", "--bank", "known-bad", "--id", "meme");
        Assert.Equal(ExitCodes.Failure, again.ExitCode);
        Assert.Contains("is not quarantined", Assert.Single(again.StderrLines));
        Assert.Equal(ExitCodes.Usage, (await Run("release", "--bank", "known-bad")).ExitCode); // --id is required
        Assert.Equal(ExitCodes.Usage, (await Run("release", "--bank", "no spaces", "--id", "x")).ExitCode);
        foreach (var cli in started) cli.Dispose();
    }
}
