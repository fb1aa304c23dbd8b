using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;

namespace Moderation.Streams.Cli.Tests;

/// <summary><c>bank snapshot</c> as an operator runs it, against the embedded Garnet server.</summary>
public sealed class BankSnapshotCommandTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_snapshot_is_written_shown_and_dropped()
    {
        await using var redis = Embedded.EmbeddedRedisServer.Start();
        var config = redis.Configuration + ",syncTimeout=15000,asyncTimeout=15000";
        var random = new Random(7);
        var entries = Enumerable.Range(0, 1500).Select(i =>
        {
            var bytes = new byte[32];
            random.NextBytes(bytes);
            return new BankEntry("known-bad", $"e{i}", PdqHash.FromBytes(bytes), 90, "label", "src", DateTimeOffset.UnixEpoch);
        }).ToList();
        await using (var connection = await RedisConnector.ConnectAsync(config))
            await new RedisBankStore(connection).ImportAsync("known-bad", entries);

        var started = new List<CliProcess>();
        async Task<(int ExitCode, IReadOnlyList<string> Out, IReadOnlyList<string> Err)> Run(params string[] args)
        {
            var cli = await CliProcess.RunAsync(["bank", "snapshot", .. args, "--redis", config], ct: Ct);
            started.Add(cli);
            int code = await cli.WaitForExitAsync(ct: Ct);
            return (code, cli.StdoutLines, cli.StderrLines);
        }

        // A fresh process loading the bank as a worker starting cold: scanned, then from the snapshot once there is one.
        async Task<string> Load()
        {
            using var cli = await CliProcess.RunAsync(["bench", "bank", "--load", "known-bad", "--redis", config], ct: Ct);
            Assert.True(await cli.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, cli.Transcript());
            return string.Join('\n', cli.StdoutLines);
        }
        var scanned = await Load();
        Assert.Contains("bank known-bad: 1,500 entries, no snapshot (scanned)", scanned);
        Assert.Matches(@"worker load: [0-9.]+ s for 1,500 entries in 1 banks; known-bad scanned: read and decode", scanned);

        var none = await Run("--bank", "known-bad", "--show");
        Assert.Equal((ExitCodes.Failure, "known-bad has no snapshot"), (none.ExitCode, Assert.Single(none.Out)));

        var written = await Run("--bank", "known-bad");
        Assert.Equal(ExitCodes.Ok, written.ExitCode);
        Assert.Matches(@"^snapshot of known-bad: 1500 entries as of version 1, 1 blocks, [0-9.]+ MiB, written \S+Z; 0 ids changed since; written in [0-9.]+ s$", Assert.Single(written.Out));

        Assert.Contains("known-bad from its snapshot: read and decode", await Load());
        await using (var connection = await RedisConnector.ConnectAsync(config))
            await new RedisBankStore(connection).RemoveAsync("known-bad", ["e1", "e2"]);
        var shown = await Run("--bank", "known-bad", "--show");
        Assert.Equal(ExitCodes.Ok, shown.ExitCode);
        Assert.Matches(@"^snapshot of known-bad: 1500 entries as of version 1, .*; 2 ids changed since$", Assert.Single(shown.Out));

        Assert.Equal((ExitCodes.Ok, "dropped the snapshot of known-bad"), await Single(Run("--bank", "known-bad", "--drop")));
        Assert.Equal((ExitCodes.Ok, "known-bad has no snapshot"), await Single(Run("--bank", "known-bad", "--drop")));

        var missing = await Run("--bank", "nothing-here");
        Assert.Equal(ExitCodes.Failure, missing.ExitCode);
        Assert.Contains("no bank nothing-here", Assert.Single(missing.Err));
        Assert.Equal(ExitCodes.Usage, (await Run("--bank", "known-bad", "--show", "--drop")).ExitCode);
        Assert.Equal(ExitCodes.Usage, (await Run("--bank", "bad name")).ExitCode);
        Assert.Equal(ExitCodes.Usage, (await Run()).ExitCode); // --bank is required
        using (var noRedis = await CliProcess.RunAsync(["bench", "bank", "--load", "known-bad"], ct: Ct))
            Assert.True(await noRedis.WaitForExitAsync(ct: Ct) == ExitCodes.Usage, noRedis.Transcript());
        foreach (var cli in started) cli.Dispose();

        static async Task<(int, string)> Single(Task<(int ExitCode, IReadOnlyList<string> Out, IReadOnlyList<string> Err)> run)
        {
            var (code, output, _) = await run;
            return (code, Assert.Single(output));
        }
    }
}
