using Confluent.Kafka;
using Moderation.Streams.Embedded;
using Moderation.Streams.Media;
using Moderation.Streams.Redis.Tests.Servers;
using StackExchange.Redis;

namespace Moderation.Streams.Cli.Tests;

/// <summary>
/// <c>produce</c> and <c>bank</c> read the worker's configuration (appsettings.json, the environment's <c>Kafka__…</c> and
/// <c>Redis__…</c> variables, the <c>Security</c> sections with their secret files), flags overriding: a password never
/// has to be on a command line.
/// </summary>
public sealed class SharedConfigurationTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("shared-config-");

    public void Dispose() => _dir.Delete(true);

    [Fact]
    public async Task Produce_takes_the_broker_and_the_uploads_topic_from_the_environment_and_the_flag_overrides_them()
    {
        using var broker = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Partitions = 1 });
        var images = _dir.CreateSubdirectory("images");
        for (int i = 0; i < 3; i++) File.WriteAllBytes(Path.Combine(images.FullName, $"i{i}.png"), SampleImages.Png(i, 16, 16));
        var environment = new Dictionary<string, string?>
        {
            ["Kafka__BootstrapServers"] = broker.BootstrapServers,
            ["Kafka__UploadsTopic"] = "custom-uploads",
        };

        using var fromConfig = await CliProcess.RunAsync(["produce", images.FullName, "--prefix", "env"], environment, ct: Ct);
        Assert.True(await fromConfig.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, fromConfig.Transcript());
        Assert.Equal("produced 3 uploads to custom-uploads", Assert.Single(fromConfig.StdoutLines));

        using var flagged = await CliProcess.RunAsync(["produce", images.FullName, "--prefix", "flag", "--topic", "other-uploads"], environment, ct: Ct);
        Assert.True(await flagged.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, flagged.Transcript());
        Assert.Equal("produced 3 uploads to other-uploads", Assert.Single(flagged.StdoutLines));

        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig { BootstrapServers = broker.BootstrapServers, GroupId = "check" }).Build();
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = broker.BootstrapServers }).Build())
        {
            var partitions = admin.GetMetadata("custom-uploads", TimeSpan.FromSeconds(10)).Topics.Single().Partitions;
            consumer.Assign(partitions.Select(p => new TopicPartitionOffset("custom-uploads", p.PartitionId, Offset.Beginning)));
        }
        var keys = new List<string>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false, Message: { } m }) keys.Add(m.Key);
            else if (keys.Count >= 3) break; // quiet after all three: any stray record would have come by now
        }
        Assert.Equal(["env-000000", "env-000001", "env-000002"], keys.Order()); // and none of the --topic run
    }

    [Fact]
    public async Task Produce_applies_Kafka_Security_and_a_missing_secret_file_is_one_configuration_line()
    {
        var images = _dir.CreateSubdirectory("images");
        File.WriteAllBytes(Path.Combine(images.FullName, "i.png"), SampleImages.Png(1, 16, 16));
        var missing = Path.Combine(_dir.FullName, "no-password");

        using var cli = await CliProcess.RunAsync(["produce", images.FullName, "--kafka", "127.0.0.1:9", "--timeout", "2"], new Dictionary<string, string?>
        {
            ["Kafka__Security__Protocol"] = "SASL_PLAINTEXT",
            ["Kafka__Security__SaslMechanism"] = "SCRAM-SHA-256",
            ["Kafka__Security__Username"] = "producer",
            ["Kafka__Security__PasswordFile"] = missing,
        }, ct: Ct);

        Assert.Equal(ExitCodes.Usage, await cli.WaitForExitAsync(ct: Ct));
        var line = Assert.Single(cli.StderrLines);
        Assert.StartsWith("moderation produce: invalid configuration: Kafka:Security:PasswordFile", line, StringComparison.Ordinal);
        Assert.Contains(missing, line, StringComparison.Ordinal);
        Assert.Empty(cli.StdoutLines);
    }

    [Fact]
    public async Task Bank_reads_the_redis_password_from_Redis_Security_PasswordFile_and_the_configuration_from_the_environment()
    {
        await using var redis = await RedisServerProcess.StartAsync(Ct);
        const string password = "s3cret-from-a-file";
        await using (var admin = await ConnectionMultiplexer.ConnectAsync(redis.Configuration))
            await admin.GetServers()[0].ExecuteAsync("CONFIG", "SET", "requirepass", password);
        var secret = Path.Combine(_dir.FullName, "redis-password");
        File.WriteAllText(secret, password + "\n"); // as a mounted Secret may end
        var csv = Path.Combine(_dir.FullName, "bank.csv");
        File.WriteAllText(csv, new string('f', 64) + ",100,e-1\n");
        var endpoint = $"127.0.0.1:{redis.Port},connectTimeout=3000";

        // No password: refused by the server, exit 1.
        using var refused = await CliProcess.RunAsync(["bank", "list"], new Dictionary<string, string?> { ["Redis__Configuration"] = endpoint }, ct: Ct);
        Assert.Equal(ExitCodes.Failure, await refused.WaitForExitAsync(ct: Ct));
        Assert.StartsWith("moderation bank list: Redis unavailable: ", Assert.Single(refused.StderrLines), StringComparison.Ordinal);

        // The password from the file, the endpoint from the environment: nothing secret on the command line.
        var environment = new Dictionary<string, string?> { ["Redis__Configuration"] = endpoint, ["Redis__Security__PasswordFile"] = secret };
        using var import = await CliProcess.RunAsync(["bank", "import", "--bank", "known", csv], environment, ct: Ct);
        Assert.True(await import.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, import.Transcript());
        Assert.Equal("imported 1 hashes into known (version 1)", Assert.Single(import.StdoutLines));
        Assert.DoesNotContain(password, import.CommandLine, StringComparison.Ordinal);

        // --redis overrides Redis:Configuration; the password file still applies.
        var elsewhere = new Dictionary<string, string?> { ["Redis__Configuration"] = "127.0.0.1:9,connectTimeout=1000", ["Redis__Security__PasswordFile"] = secret };
        using var list = await CliProcess.RunAsync(["bank", "list", "--redis", endpoint], elsewhere, ct: Ct);
        Assert.True(await list.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, list.Transcript());
        Assert.Equal("known\t1\tversion 1", Assert.Single(list.StdoutLines));

        using var badSecret = await CliProcess.RunAsync(["bank", "list"],
            new Dictionary<string, string?> { ["Redis__Configuration"] = endpoint, ["Redis__Security__PasswordFile"] = Path.Combine(_dir.FullName, "none") }, ct: Ct);
        Assert.Equal(ExitCodes.Usage, await badSecret.WaitForExitAsync(ct: Ct));
        Assert.StartsWith("moderation bank list: invalid configuration: Redis:Security:PasswordFile: cannot read ", Assert.Single(badSecret.StderrLines), StringComparison.Ordinal);
    }
}
