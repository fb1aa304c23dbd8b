using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Moderation.Streams.Media.Tests;

/// <summary>
/// A minimal HTTP/1.1 server on 127.0.0.1 for media fetch tests: each request's path picks a scripted
/// response, written raw so tests can lie about lengths, stall, or redirect anywhere.
/// </summary>
public sealed class LoopbackHttpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<string, Func<Stream, CancellationToken, Task>> _routes = [];
    private readonly Task _accepting;
    private int _connections;

    public LoopbackHttpServer()
    {
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
    public int Connections => Volatile.Read(ref _connections);
    public List<string> Requests { get; } = [];

    public string Url(string path, string host = "localhost") => $"http://{host}:{Port}{path}";

    public void Route(string path, Func<Stream, CancellationToken, Task> respond)
    {
        lock (_routes) _routes[path] = respond;
    }

    public void Bytes(string path, byte[] body, string contentType = "application/octet-stream") =>
        Route(path, (s, ct) => WriteAsync(s, $"HTTP/1.1 200 OK\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n", body, ct));

    public void Redirect(string path, string location, int status = 302) =>
        Route(path, (s, ct) => WriteAsync(s, $"HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", [], ct));

    public static async Task WriteAsync(Stream s, string head, byte[] body, CancellationToken ct)
    {
        await s.WriteAsync(Encoding.ASCII.GetBytes(head), ct);
        await s.WriteAsync(body, ct);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            Interlocked.Increment(ref _connections);
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var head = new StringBuilder();
                var one = new byte[1];
                while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
                {
                    if (await stream.ReadAsync(one, _stop.Token) == 0) return;
                    head.Append((char)one[0]);
                }
                var path = head.ToString().Split(' ')[1];
                lock (Requests) Requests.Add(path);
                Func<Stream, CancellationToken, Task>? respond;
                lock (_routes) _routes.TryGetValue(path, out respond);
                respond ??= (s, ct) => WriteAsync(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", [], ct);
                await respond(stream, _stop.Token);
                await stream.FlushAsync(_stop.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // The client gave up (size cap, timeout): that is what several tests provoke.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
