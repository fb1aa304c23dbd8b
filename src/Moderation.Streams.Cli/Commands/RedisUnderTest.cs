using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Moderation.Streams.Embedded;

namespace Moderation.Streams.Cli.Commands;

/// <summary>A real <c>redis-server</c> process when one is installed (restartable on the same port), else embedded Garnet
/// (used by <c>chaos</c> and the end-to-end benchmarks).</summary>
internal sealed class RedisUnderTest : IAsyncDisposable
{
    private Process? _server;
    private EmbeddedRedisServer? _garnet;
    private int _port;

    public string Configuration => $"127.0.0.1:{_port}";
    public string Kind => _server is not null ? "redis-server" : "embedded Garnet, not restarted";
    public bool CanRestart => _server is not null;

    /// <summary><c>redis-server</c> on PATH, or null.</summary>
    public static string? FindServer() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(d, "redis-server")).FirstOrDefault(File.Exists);

    /// <summary>Starts <c>redis-server</c> from PATH on a free port; without one, embedded Garnet unless
    /// <paramref name="requireServer"/> (then <see cref="InvalidOperationException"/>).</summary>
    public static async Task<RedisUnderTest> StartAsync(CancellationToken ct, bool requireServer = false)
    {
        var redis = new RedisUnderTest();
        var binary = FindServer();
        if (binary is null && requireServer) throw new InvalidOperationException("redis-server was not found on PATH");
        if (binary is null)
        {
            redis._garnet = EmbeddedRedisServer.Start();
            redis._port = redis._garnet.Port;
            return redis;
        }
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        redis._port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await redis.StartServerAsync(binary, ct);
        return redis;
    }

    private string? _binary;

    private async Task StartServerAsync(string binary, CancellationToken ct)
    {
        _binary = binary;
        var info = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--port", _port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" }) info.ArgumentList.Add(a);
        _server = Process.Start(info)!;
        _server.OutputDataReceived += (_, _) => { };
        _server.ErrorDataReceived += (_, _) => { };
        _server.BeginOutputReadLine();
        _server.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, _port, ct);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50, ct);
            }
        }
        throw new InvalidOperationException("redis-server did not start");
    }

    public async Task RestartAsync(CancellationToken ct)
    {
        _server!.Kill();
        await _server.WaitForExitAsync(ct);
        _server.Dispose();
        await StartServerAsync(_binary!, ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            try { _server.Kill(); } catch (InvalidOperationException) { }
            _server.Dispose();
        }
        if (_garnet is not null) await _garnet.DisposeAsync();
    }
}
