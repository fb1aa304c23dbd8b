using System.Net;
using System.Net.Sockets;

namespace Moderation.Streams.Cli.Tests;

/// <summary>A worker that cannot start says why in one line — no stack trace, no .NET member names — and exits 2 when
/// the configuration is at fault (a policy file that does not parse), 1 otherwise (the telemetry port is taken).</summary>
public sealed class WorkerStartupErrorTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("worker-start-");

    public void Dispose() => _dir.Delete(true);

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void AssertNoStackTrace(CliProcess worker) =>
        Assert.DoesNotContain(worker.StdoutLines.Concat(worker.StderrLines),
            l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal) || l.Contains("Exception:", StringComparison.Ordinal) || l.Contains("(Parameter '", StringComparison.Ordinal));

    [Fact]
    public async Task A_policy_file_that_does_not_parse_is_one_line_and_exit_code_2()
    {
        var policy = Path.Combine(_dir.FullName, "policy.json");
        File.WriteAllText(policy, "{\"version\":");

        using var worker = await CliProcess.RunAsync(["worker", "--kafka", $"127.0.0.1:{ClosedPort()}", "--policy", policy, "--telemetry-port", "-1"], ct: Ct);

        Assert.Equal(ExitCodes.Usage, await worker.WaitForExitAsync(ct: Ct));
        Assert.Single(worker.StdoutLines.Concat(worker.StderrLines), l => l.Contains($"Screening stopped: {policy}: invalid policy JSON at line", StringComparison.Ordinal));
        AssertNoStackTrace(worker);
    }

    [Fact]
    public async Task A_telemetry_port_in_use_is_one_line_and_exit_code_1()
    {
        using var taken = new TcpListener(IPAddress.Any, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;

        using var worker = await CliProcess.RunAsync(["worker", "--kafka", $"127.0.0.1:{ClosedPort()}", "--telemetry-port", port.ToString()], ct: Ct);

        Assert.Equal(ExitCodes.Failure, await worker.WaitForExitAsync(ct: Ct));
        Assert.Contains($"moderation worker: Failed to bind to address http://[::]:{port}: address already in use. (--telemetry-port, Telemetry:Port)", worker.StderrLines);
        AssertNoStackTrace(worker);
    }
}
