using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Cli.Tests;

public sealed partial class BrokerCommandTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [GeneratedRegex(@"^bootstrap=127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+)*$")]
    private static partial Regex BootstrapLine();

    [Fact]
    public async Task The_first_stdout_line_is_the_bootstrap_address()
    {
        using var broker = CliProcess.Start(["broker", "--brokers", "2"]);

        await broker.WaitForLineAsync(_ => true, ct: Ct);

        var first = broker.StdoutLines[0];
        Assert.True(BootstrapLine().IsMatch(first), broker.Transcript());
        Assert.Equal(2, first.Split(',').Length);
    }

    [Fact]
    public async Task Kcat_lists_the_contract_topics_with_the_requested_partitions()
    {
        using var broker = CliProcess.Start(["broker", "--partitions", "3"]);
        var bootstrap = await BootstrapAsync(broker);

        var metadata = await Kcat.RunAsync(["-b", bootstrap, "-L"], Ct);

        Assert.True(metadata.ExitCode == 0, metadata.ToString());
        foreach (var topic in Topics.All)
            Assert.Contains($"topic \"{topic}\" with 3 partitions", metadata.Stdout);
    }

    [Fact]
    public async Task Messages_a_csharp_producer_writes_with_headers_are_read_back_exactly_by_kcat()
    {
        using var broker = CliProcess.Start(["broker", "--topics", "events", "--partitions", "1"]);
        var bootstrap = await BootstrapAsync(broker);
        var sent = Enumerable.Range(0, 25).Select(i => (Key: $"k{i}", Value: $"value {i}", Trace: $"t-{i}")).ToList();

        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig
               {
                   BootstrapServers = bootstrap, Acks = Acks.All, EnableIdempotence = true,
               }).Build())
        {
            foreach (var (key, value, trace) in sent)
            {
                var headers = new Headers { { "trace", Encoding.UTF8.GetBytes(trace) }, { "source", "test"u8.ToArray() } };
                await producer.ProduceAsync("events", new Message<string, string> { Key = key, Value = value, Headers = headers }, Ct);
            }
        }

        var consumed = await Kcat.RunAsync(["-b", bootstrap, "-C", "-t", "events", "-e", "-q", "-f", "%k %s %h\n"], Ct);

        Assert.True(consumed.ExitCode == 0, consumed.ToString());
        var expected = sent.Select(m => $"{m.Key} {m.Value} trace={m.Trace},source=test");
        Assert.Equal(expected, consumed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task A_fixed_port_serves_as_the_bootstrap_address()
    {
        var port = FreePort();
        using var broker = CliProcess.Start(["broker", "--port", port.ToString(), "--topics", "a,b"]);

        var bootstrap = await BootstrapAsync(broker);
        var metadata = await Kcat.RunAsync(["-b", bootstrap, "-L"], Ct);

        Assert.Equal($"127.0.0.1:{port}", bootstrap);
        Assert.True(metadata.ExitCode == 0, metadata.ToString());
        Assert.Contains("topic \"a\" with 4 partitions", metadata.Stdout);
        Assert.Contains("topic \"b\" with 4 partitions", metadata.Stdout);
        Assert.DoesNotContain("topic \"uploads\"", metadata.Stdout);
    }

    [Theory]
    [InlineData(CliProcess.SIGTERM)]
    [InlineData(CliProcess.SIGINT)]
    public async Task A_termination_signal_stops_the_broker_with_exit_code_0_and_closes_its_port(int signal)
    {
        // A process started in the background by a shell without job control (`cmd &`, nohup) has SIGINT ignored, and so
        // have its children: the broker rightly keeps ignoring it then (as the .NET runtime does).
        if (signal == CliProcess.SIGINT && SigintIgnoredHere())
            Assert.Skip("SIGINT is ignored by whoever started these tests (a background job or nohup); the broker inherits that");
        using var broker = CliProcess.Start(["broker"]);
        var endpoint = IPEndPoint.Parse((await BootstrapAsync(broker)).Split(',')[0]);
        await ConnectAsync(endpoint);

        broker.Signal(signal);
        var exitCode = await broker.WaitForExitAsync(ct: Ct);

        Assert.True(exitCode == 0, broker.Transcript());
        var refused = await Assert.ThrowsAsync<SocketException>(() => ConnectAsync(endpoint));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Theory]
    [InlineData("--brokers", "0")]
    [InlineData("--partitions", "0")]
    [InlineData("--port", "70000")]
    [InlineData("--port", "not-a-port")]
    [InlineData("--no-such-option", "1")]
    public async Task Bad_options_exit_with_usage_code_2_before_starting(string option, string value)
    {
        using var broker = await CliProcess.RunAsync(["broker", option, value], ct: Ct);

        Assert.True(broker.HasExited);
        Assert.True(await broker.WaitForExitAsync(ct: Ct) == 2, broker.Transcript());
        Assert.DoesNotContain(broker.StdoutLines, line => line.StartsWith("bootstrap=", StringComparison.Ordinal));
        Assert.NotEmpty(broker.StderrLines);
    }

    private static async Task<string> BootstrapAsync(CliProcess broker)
    {
        var line = await broker.WaitForLineAsync(l => l.StartsWith("bootstrap=", StringComparison.Ordinal), ct: Ct);
        Assert.True(BootstrapLine().IsMatch(line), broker.Transcript());
        return line["bootstrap=".Length..];
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    // Bit 1 of /proc/self/status's SigIgn mask is signal 2, SIGINT.
    private static bool SigintIgnoredHere() =>
        File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal)) is { } line
        && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & 0b10) != 0;

    private static async Task ConnectAsync(IPEndPoint endpoint)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(endpoint, Ct);
    }
}
