using Moderation.Streams.Embedded;
using System.Net;
using System.Net.Sockets;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media;

namespace Moderation.Streams.Cli.Tests;

/// <summary>A verb that could not do what it was asked says so and exits 1 (2 for what it refuses to do as asked):
/// <c>produce</c> to a broker nobody answers, <c>bank export|remove</c> of a bank that does not exist, <c>replay --live</c>
/// without the hash banks.</summary>
public sealed class UnfinishedWorkExitCodeTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _images = Directory.CreateTempSubdirectory("exit-codes-");
    private static readonly Dictionary<string, string?> NoRedisFromEnvironment = new() { ["Redis__Configuration"] = null };

    public void Dispose() => _images.Delete(true);

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port; // closed again when disposed: connections are refused
    }

    [Fact]
    public async Task Produce_to_a_broker_nobody_answers_fails_and_claims_nothing_produced()
    {
        for (int i = 0; i < 4; i++) File.WriteAllBytes(Path.Combine(_images.FullName, $"i{i}.png"), SampleImages.Png(i, 16, 16));

        using var cli = await CliProcess.RunAsync(["produce", _images.FullName, "--count", "20", "--kafka", $"127.0.0.1:{ClosedPort()}", "--timeout", "2"], ct: Ct);

        // Before the fix: "produced 20 uploads", exit 0, with all 20 still queued.
        Assert.Equal(ExitCodes.Failure, await cli.WaitForExitAsync(ct: Ct));
        Assert.Equal("produced 0 uploads to uploads", Assert.Single(cli.StdoutLines));
        Assert.Contains(cli.StderrLines, l => l.StartsWith("moderation produce: 20 of 20 uploads were not acknowledged by 127.0.0.1:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Bank_export_and_remove_of_a_bank_that_does_not_exist_fail_and_print_no_csv()
    {
        await using var redis = Embedded.EmbeddedRedisServer.Start();
        var output = Path.Combine(_images.FullName, "out.csv");

        using var export = await CliProcess.RunAsync(["bank", "export", "--redis", redis.Configuration, "--bank", "nosuch"], ct: Ct);
        using var toFile = await CliProcess.RunAsync(["bank", "export", "--redis", redis.Configuration, "--bank", "nosuch", "--output", output], ct: Ct);
        using var remove = await CliProcess.RunAsync(["bank", "remove", "--redis", redis.Configuration, "--bank", "nosuch", "h-1"], ct: Ct);

        // Before the fix: an empty CSV and exit 0.
        Assert.Equal(ExitCodes.Failure, await export.WaitForExitAsync(ct: Ct));
        Assert.Empty(export.StdoutLines);
        Assert.Contains("moderation bank export: no bank nosuch (see 'moderation bank list')", export.StderrLines);
        Assert.Equal(ExitCodes.Failure, await toFile.WaitForExitAsync(ct: Ct));
        Assert.False(File.Exists(output));
        Assert.Equal(ExitCodes.Failure, await remove.WaitForExitAsync(ct: Ct));
        Assert.Contains("moderation bank remove: no bank nosuch (see 'moderation bank list')", remove.StderrLines);
    }

    [Fact]
    public async Task Bank_remove_of_ids_not_in_the_bank_fails()
    {
        await using var redis = Embedded.EmbeddedRedisServer.Start();
        var csv = Path.Combine(_images.FullName, "bank.csv");
        File.WriteAllText(csv, $"{new string('a', 64)},90,h-1\n");
        using var import = await CliProcess.RunAsync(["bank", "import", "--redis", redis.Configuration, "--bank", "known", csv], ct: Ct);
        Assert.Equal(ExitCodes.Ok, await import.WaitForExitAsync(ct: Ct));

        using var remove = await CliProcess.RunAsync(["bank", "remove", "--redis", redis.Configuration, "--bank", "known", "h-1", "h-2"], ct: Ct);

        Assert.Equal(ExitCodes.Failure, await remove.WaitForExitAsync(ct: Ct));
        Assert.Contains("removed 1 of 2 from known", remove.StdoutLines);
        Assert.Contains("moderation bank remove: 1 of the ids are not in known", remove.StderrLines);
    }

    [Fact]
    public async Task Replay_live_without_redis_is_refused_unless_without_banks_says_so()
    {
        using var broker = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Partitions = 1 });
        string[] args = ["replay", "--kafka", broker.BootstrapServers, "--from", "earliest", "--to", "now", "--live", "--progress", "none"];

        using var refused = await CliProcess.RunAsync(args, NoRedisFromEnvironment, ct: Ct);
        using var told = await CliProcess.RunAsync([.. args, "--without-banks"], NoRedisFromEnvironment, ct: Ct);

        // Before the fix a live replay without Redis ran, publishing allows for banked content.
        Assert.Equal(ExitCodes.Usage, await refused.WaitForExitAsync(ct: Ct));
        Assert.Empty(refused.StdoutLines);
        Assert.Contains(refused.StderrLines, l => l.StartsWith("moderation replay: --live without --redis would publish decisions made with no hash bank consulted", StringComparison.Ordinal));
        Assert.Equal(ExitCodes.Ok, await told.WaitForExitAsync(ct: Ct));
        Assert.Contains(told.StderrLines, l => l.StartsWith("moderation replay: no --redis: hash banks are not consulted", StringComparison.Ordinal));
    }
}
