using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Media;

/// <summary>
/// Reads an upload's media bytes: inline data, <c>file:</c> URLs confined to the media root (symlinks
/// resolved before the check), and <c>http(s):</c> URLs to allow-listed hosts only, whose resolved
/// addresses must be public (checked on every connection, redirects are not followed), under a streamed
/// size cap and a time budget.
/// </summary>
public sealed class MediaReader : IDisposable
{
    private readonly MediaOptions _options;
    private readonly string? _root;
    private readonly HttpClient _http;

    public MediaReader(MediaOptions options)
    {
        _options = options;
        if (options.Root is not null)
        {
            var full = Path.GetFullPath(options.Root);
            _root = RealPath(full) ?? full;
        }
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            ConnectTimeout = TimeSpan.FromSeconds(3),
            ConnectCallback = ConnectToPublicAddressAsync,
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    public MediaOptions Options => _options;

    public async Task<byte[]> ReadAsync(MediaRef media, CancellationToken ct)
    {
        if (media.Data is { } inline)
        {
            if (inline.Length > _options.MaxBytes) throw TooLarge(inline.Length);
            return inline;
        }
        var url = media.Url ?? throw new ModerationException(ErrorCodes.InvalidEvent, "media has neither url nor data");
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri))
            throw new ModerationException(ErrorCodes.ForbiddenUrl, "media.url is not an absolute URL");
        if (!string.IsNullOrEmpty(uri.UserInfo))
            throw new ModerationException(ErrorCodes.ForbiddenUrl, "credentials in media URLs are not allowed");
        return uri.Scheme switch
        {
            "file" => await ReadFileAsync(uri, ct).ConfigureAwait(false),
            "https" => await FetchAsync(uri, ct).ConfigureAwait(false),
            "http" when _options.AllowHttp => await FetchAsync(uri, ct).ConfigureAwait(false),
            _ => throw new ModerationException(ErrorCodes.ForbiddenUrl, $"URL scheme '{uri.Scheme}' is not allowed"),
        };
    }

    private async Task<byte[]> ReadFileAsync(Uri uri, CancellationToken ct)
    {
        if (_root is null) throw new ModerationException(ErrorCodes.ForbiddenUrl, "file URLs are not enabled (no media root)");
        if (!string.IsNullOrEmpty(uri.Host) && uri.Host != "localhost")
            throw new ModerationException(ErrorCodes.ForbiddenUrl, "file URLs must not name a host");
        var requested = Path.GetFullPath(uri.LocalPath);
        if (!IsUnderRoot(requested)) throw OutsideRoot();
        if (!File.Exists(requested)) throw new ModerationException(ErrorCodes.MediaUnavailable, "media file not found");
        var real = RealPath(requested) ?? throw new ModerationException(ErrorCodes.MediaUnavailable, "media file not found");
        if (!IsUnderRoot(real)) throw OutsideRoot();

        await using var stream = new FileStream(real, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous);
        if (stream.Length > _options.MaxBytes) throw TooLarge(stream.Length);
        var bytes = new byte[stream.Length];
        await stream.ReadExactlyAsync(bytes, ct).ConfigureAwait(false);
        return bytes;
    }

    private bool IsUnderRoot(string path) =>
        path.StartsWith(_root!.EndsWith('/') ? _root : _root + "/", StringComparison.Ordinal);

    private static ModerationException OutsideRoot() =>
        new(ErrorCodes.ForbiddenUrl, "file URL points outside the media root");

    private ModerationException TooLarge(long length) =>
        new(ErrorCodes.MediaTooLarge, $"media of {length} bytes exceeds the limit of {_options.MaxBytes}");

    private async Task<byte[]> FetchAsync(Uri uri, CancellationToken ct)
    {
        if (!_options.AllowedHosts.Contains(uri.IdnHost, StringComparer.OrdinalIgnoreCase))
            throw new ModerationException(ErrorCodes.ForbiddenUrl, $"host '{uri.IdnHost}' is not on the allow-list");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.FetchTimeout);
        try
        {
            using var response = await _http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if ((int)response.StatusCode is >= 300 and < 400)
                throw new ModerationException(ErrorCodes.ForbiddenUrl, "redirects are not followed");
            if (!response.IsSuccessStatusCode)
                throw new ModerationException(ErrorCodes.MediaUnavailable, $"media fetch answered HTTP {(int)response.StatusCode}");
            if (response.Content.Headers.ContentLength is long declared && declared > _options.MaxBytes) throw TooLarge(declared);
            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            using var buffer = new MemoryStream();
            var chunk = new byte[81920];
            int read;
            while ((read = await body.ReadAsync(chunk, timeout.Token).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > _options.MaxBytes) throw TooLarge(buffer.Length + read);
                buffer.Write(chunk, 0, read);
            }
            return buffer.ToArray();
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new ModerationException(ErrorCodes.MediaUnavailable, $"media fetch exceeded {_options.FetchTimeout.TotalSeconds:0.#} s");
        }
        catch (HttpRequestException e) when (e.InnerException is ModerationException inner)
        {
            throw inner;
        }
        catch (HttpRequestException e)
        {
            throw new ModerationException(ErrorCodes.MediaUnavailable, $"media fetch failed: {e.Message}");
        }
    }

    private static async ValueTask<Stream> ConnectToPublicAddressAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var addresses = await Dns.GetHostAddressesAsync(context.DnsEndPoint.Host, ct).ConfigureAwait(false);
        var allowed = addresses.Where(IsPublic).ToArray();
        if (allowed.Length == 0 || allowed.Length != addresses.Length)
            throw new ModerationException(ErrorCodes.ForbiddenUrl, "media host resolves to a non-public address");
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, ct).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>False for loopback, private, link-local (incl. cloud metadata), CGNAT, multicast, unspecified and reserved ranges.</summary>
    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return !(b[0] == 0 || b[0] == 10 || b[0] == 127 || b[0] >= 224
                || (b[0] == 100 && b[1] >= 64 && b[1] <= 127)
                || (b[0] == 169 && b[1] == 254)
                || (b[0] == 172 && b[1] >= 16 && b[1] <= 31)
                || (b[0] == 192 && b[1] == 168)
                || (b[0] == 192 && b[1] == 0 && b[2] == 0)
                || (b[0] == 198 && (b[1] == 18 || b[1] == 19)));
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.IPv6None) || address.IsIPv6LinkLocal
                || address.IsIPv6SiteLocal || address.IsIPv6Multicast || address.IsIPv6UniqueLocal) return false;
            var b = address.GetAddressBytes();
            if (b[0] == 0x20 && b[1] == 0x02) return false; // 6to4 can embed private IPv4
            if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) return false; // NAT64
            return true;
        }
        return false;
    }

    private static string? RealPath(string path)
    {
        var result = realpath(path, IntPtr.Zero);
        if (result == IntPtr.Zero) return null;
        try
        {
            return Marshal.PtrToStringUTF8(result);
        }
        finally
        {
            free(result);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern IntPtr realpath([MarshalAs(UnmanagedType.LPUTF8Str)] string path, IntPtr resolved);

    [DllImport("libc")]
    private static extern void free(IntPtr pointer);

    public void Dispose() => _http.Dispose();
}
