using Moderation.Streams.Embedded;

namespace Moderation.Streams.Cli.Tests;

/// <summary><c>Telemetry:BindAddress</c> as documented (README, <c>worker --help</c>): the endpoints listen on the address
/// given, IPv6 included (an ignored setting would listen everywhere and report 127.0.0.1: the <c>::1</c> case tells).</summary>
public sealed class TelemetryBindAddressTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("127.0.0.1", "http://127.0.0.1:")]
    [InlineData("::1", "http://[::1]:")]
    public async Task The_worker_serves_its_endpoints_on_the_configured_address(string address, string expected)
    {
        using var broker = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Partitions = 1 });
        using var worker = CliProcess.Start(["worker", "--kafka", broker.BootstrapServers, "--telemetry-port", "0", "--group", "bind-" + address.Replace(':', '-')],
            new Dictionary<string, string?> { ["Telemetry__BindAddress"] = address });

        var line = await worker.WaitForLineAsync(l => l.StartsWith("telemetry=", StringComparison.Ordinal), TimeSpan.FromSeconds(90), Ct);
        var url = line["telemetry=".Length..].Split(' ')[0];
        Assert.StartsWith(expected, url, StringComparison.Ordinal);
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        using var live = await http.GetAsync("/healthz", Ct);
        Assert.Equal(System.Net.HttpStatusCode.OK, live.StatusCode);

        worker.Terminate();
        Assert.Equal(ExitCodes.Ok, await worker.WaitForExitAsync(TimeSpan.FromSeconds(60), Ct));
    }
}
