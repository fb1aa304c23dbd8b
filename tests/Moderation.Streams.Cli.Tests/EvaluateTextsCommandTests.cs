using Moderation.Streams.Contracts;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.TextBanks;

namespace Moderation.Streams.Cli.Tests;

/// <summary><c>moderation evaluate --texts FILE.csv</c> as a process: precision and recall per category of the text banks in
/// Redis (terms and a meaning bank), exit 0 when every category reaches the target precision, 1 when one misses it, 2 on
/// bad usage.</summary>
public sealed class EvaluateTextsCommandTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("evaluate-texts-");

    public void Dispose() => _dir.Delete(true);

    private string File(string name, string content)
    {
        var path = Path.Combine(_dir.FullName, name);
        System.IO.File.WriteAllText(path, content);
        return path;
    }

    private static async Task<CliProcess> Run(params string[] args)
    {
        var cli = await CliProcess.RunAsync(["evaluate", .. args], ct: Ct);
        await cli.WaitForExitAsync(ct: Ct);
        return cli;
    }

    [Fact]
    public async Task Precision_and_recall_per_category_with_the_target_deciding_the_exit_code()
    {
        await using var server = Embedded.EmbeddedRedisServer.Start();
        var configuration = server.Configuration + ",syncTimeout=15000,asyncTimeout=15000";
        await using (var redis = await RedisConnector.ConnectAsync(configuration))
        {
            var store = new RedisTextBankStore(redis);
            await store.ImportAsync("scams", TextBankKinds.Terms, new StringReader("pattern,category\nfree crypto,scam\n"));
            await store.ImportAsync("abuse", TextBankKinds.Texts,
                new StringReader("text,category\nYou are worthless and everyone would be happier if you disappeared,harassment\n"), threshold: 0.7f);
        }
        var set = File("set.csv", """
            text,label
            get fr33 crypto now,scam
            free crypto giveaway today,scam
            send bitcoin and I will double it,scam
            "you're worthless, everyone would be happier if you were gone",harassment
            I love free crypto discussions,none
            nice photo,benign
            """);

        using var strict = await Run("--texts", set, "--redis", configuration);
        Assert.Equal(ExitCodes.Failure, await strict.WaitForExitAsync(ct: Ct));
        Assert.Equal([
            "category\tlabelled\tflagged\ttrue_positives\tprecision\trecall",
            "harassment\t1\t1\t1\t1.000\t1.000",
            "scam\t3\t3\t2\t0.667\t0.667",
            "*\t4\t4\t3\t0.750\t0.750",
        ], strict.StdoutLines);
        Assert.Contains(strict.StderrLines, l => l.Contains("scam: precision 0.667 is below the target 0.95"));

        using var lenient = await Run("--texts", set, "--redis", configuration, "--target-precision", "0.6");
        Assert.Equal(ExitCodes.Ok, await lenient.WaitForExitAsync(ct: Ct));
        Assert.Equal(4, lenient.StdoutLines.Count);
    }

    [Fact]
    public async Task Bad_usage_is_exit_2_with_one_clear_line()
    {
        var set = File("set.csv", "text,label\nhello,none\n");
        using var noRedis = await Run("--texts", set);
        Assert.Equal(ExitCodes.Usage, await noRedis.WaitForExitAsync(ct: Ct));
        Assert.Contains(noRedis.StderrLines, l => l.Contains("--redis"));

        using var both = await Run("--texts", set, "--labels", set, "--redis", "127.0.0.1:1");
        Assert.Equal(ExitCodes.Usage, await both.WaitForExitAsync(ct: Ct));

        var bad = File("bad.csv", "text,label\nno label here\n,scam\nok,\n");
        using var malformed = await Run("--texts", bad, "--redis", "127.0.0.1:1");
        Assert.Equal(ExitCodes.Usage, await malformed.WaitForExitAsync(ct: Ct));
        Assert.Equal([$"moderation evaluate: {bad}:2: expected text,label", $"moderation evaluate: {bad}:3: text must have 1 to 10000 characters",
            $"moderation evaluate: {bad}:4: label is empty (none, benign or safe for a text that violates nothing)"], malformed.StderrLines);
        Assert.Empty(malformed.StdoutLines);

        using var neither = await Run("--redis", "127.0.0.1:1");
        Assert.Equal(ExitCodes.Usage, await neither.WaitForExitAsync(ct: Ct));
    }
}
