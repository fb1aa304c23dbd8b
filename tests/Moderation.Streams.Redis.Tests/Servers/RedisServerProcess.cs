using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Moderation.Streams.Redis.Tests.Servers;

/// <summary>
/// A real <c>redis-server</c> child process on 127.0.0.1, memory only (<c>--save "" --appendonly no</c>).
/// It can be killed and started again on the same port to simulate an outage.
/// </summary>
public sealed class RedisServerProcess : IAsyncDisposable
{
    private static readonly TimeSpan ReadyDeadline = TimeSpan.FromSeconds(15);
    private readonly string _binary;
    private readonly string _directory;
    private readonly StringBuilder _output = new();
    private Process? _process;

    private RedisServerProcess(string binary, int port)
    {
        _binary = binary;
        Port = port;
        _directory = Directory.CreateTempSubdirectory("redis-test-").FullName;
    }

    public int Port { get; }

    public string Configuration => $"127.0.0.1:{Port},allowAdmin=true";

    /// <summary>Starts redis-server on a free port and waits until it answers PING.</summary>
    public static async Task<RedisServerProcess> StartAsync(CancellationToken ct)
    {
        var server = new RedisServerProcess(FindBinary(), FreeLoopbackPort());
        await server.RestartAsync(ct);
        return server;
    }

    /// <summary>Kills the process (SIGKILL: a crash, not a clean shutdown) and waits for it to exit.</summary>
    public async Task StopAsync()
    {
        if (_process is { } process)
        {
            _process = null;
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync();
            process.Dispose();
        }
    }

    /// <summary>Starts the server on the same port (after <see cref="StopAsync"/>) and waits for PING.</summary>
    public async Task RestartAsync(CancellationToken ct)
    {
        await StopAsync();
        var info = new ProcessStartInfo(_binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no",
                     "--dir", _directory, "--loglevel", "warning",
                 })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {_binary}.");
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        await WaitUntilReadyAsync(process, ct);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: an empty temp folder left behind is harmless.
        }
    }

    private async Task WaitUntilReadyAsync(Process process, CancellationToken ct)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(ReadyDeadline.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"redis-server exited with code {process.ExitCode} on port {Port}: {Output()}");
            }

            if (await AnswersPingAsync(ct))
            {
                return;
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"redis-server did not answer PING on port {Port} within {ReadyDeadline}: {Output()}");
            }

            await Task.Delay(20, ct);
        }
    }

    private async Task<bool> AnswersPingAsync(CancellationToken ct)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, Port, ct);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), ct);
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer, ct);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static string FindBinary()
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var folder in path.Split(Path.PathSeparator).Append("/usr/bin").Append("/usr/sbin"))
        {
            var candidate = Path.Combine(folder, "redis-server");
            if (folder.Length > 0 && File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException(
            "redis-server was not found on PATH, /usr/bin or /usr/sbin. These tests run against a real Redis: " +
            "install it with 'apt-get install -y redis-server'.");
    }

    private static int FreeLoopbackPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    private string Output()
    {
        lock (_output)
        {
            return _output.ToString();
        }
    }
}
