using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Garnet;

namespace Moderation.Streams.Embedded;

/// <summary>
/// An in-process Redis-protocol store (Microsoft Garnet) on 127.0.0.1, memory only: no AOF, no storage
/// tier. For <c>moderation demo</c> and tests; production uses a real Redis (cluster).
/// </summary>
public sealed class EmbeddedRedisServer : IAsyncDisposable, IDisposable
{
    private const int StartAttempts = 3;
    private readonly GarnetServer _server;
    private int _disposed;

    private EmbeddedRedisServer(GarnetServer server, int port, TimeSpan startupTime)
    {
        _server = server;
        Port = port;
        StartupTime = startupTime;
    }

    public int Port { get; }

    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    /// <summary>A StackExchange.Redis configuration string for this server.</summary>
    public string Configuration => $"127.0.0.1:{Port},allowAdmin=true";

    /// <summary>How long constructing and starting Garnet took.</summary>
    public TimeSpan StartupTime { get; }

    /// <summary>Starts Garnet on <paramref name="port"/>; 0 picks a free port.</summary>
    public static EmbeddedRedisServer Start(int port = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, IPEndPoint.MaxPort);
        for (var attempt = 1; ; attempt++)
        {
            var chosen = port == 0 ? FreeLoopbackPort() : port;
            var started = Stopwatch.GetTimestamp();
            GarnetServer? server = null;
            try
            {
                // The GarnetServerOptions constructor path throws NullReferenceException in 2.2.8; the
                // argument form is the supported one.
                server = new GarnetServer(["--bind", "127.0.0.1", "--port", chosen.ToString(System.Globalization.CultureInfo.InvariantCulture), "--lua", "true", "-q"]);
                server.Start();
                return new EmbeddedRedisServer(server, chosen, Stopwatch.GetElapsedTime(started));
            }
            catch (Exception) when (port == 0 && attempt < StartAttempts)
            {
                // Another process took the free port between probing and binding: try another one.
                server?.Dispose();
            }
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _server.Dispose();
        }
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private static int FreeLoopbackPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
