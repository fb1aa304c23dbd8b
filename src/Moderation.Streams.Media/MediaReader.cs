using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Media;

/// <summary>
/// Reads an upload's media bytes: inline data, <c>file:</c> URLs confined to the media root (symlinks
/// resolved before the check), and <c>http(s):</c> URLs to allow-listed hosts only. Every connection,
/// redirects included, goes to an address checked by <see cref="IsPublic"/> at connect time (so DNS cannot
/// change the answer between check and use); every redirect hop is checked against the scheme, credential
/// and allow-list rules again, up to <see cref="MediaOptions.MaxRedirects"/>. Reads are streamed under a size
/// cap and a total time budget. Content-Type and names are ignored: the decoder sniffs the bytes.
/// </summary>
public sealed class MediaReader : IDisposable
{
    private readonly MediaOptions _options;
    private readonly string? _root;
    private readonly HttpClient _http;
    private readonly bool _permitLoopback;
    private readonly string[] _exactHosts;
    private readonly string[] _hostSuffixes;

    public MediaReader(MediaOptions options) : this(options, permitLoopbackForTests: false)
    {
    }

    /// <summary>Tests only (internal, never bound from configuration): lets a test reach its own loopback server.
    /// Every other rule, the allow-list included, still applies.</summary>
    internal MediaReader(MediaOptions options, bool permitLoopbackForTests)
    {
        _options = options;
        _permitLoopback = permitLoopbackForTests;
        if (options.Root is not null)
        {
            var full = Path.GetFullPath(options.Root);
            _root = RealPath(full) ?? full;
        }
        var hosts = options.AllowedHosts.Select(NormaliseHost).Where(h => h.Length > 0).ToArray();
        _exactHosts = hosts.Where(h => !h.StartsWith("*.", StringComparison.Ordinal)).ToArray();
        _hostSuffixes = hosts.Where(h => h.StartsWith("*.", StringComparison.Ordinal)).Select(h => h[1..]).ToArray();
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = options.ConnectTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(1),
            MaxResponseHeadersLength = 64,
            ConnectCallback = ConnectToCheckedAddressAsync,
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("Moderation.Streams/1");
        _http.DefaultRequestHeaders.Accept.ParseAdd("image/*");
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
        return uri.Scheme switch
        {
            "file" => await ReadFileAsync(uri, ct).ConfigureAwait(false),
            "https" or "http" => await FetchAsync(uri, ct).ConfigureAwait(false),
            _ => throw new ModerationException(ErrorCodes.ForbiddenUrl, $"URL scheme '{Printable(uri.Scheme)}' is not allowed"),
        };
    }

    private async Task<byte[]> ReadFileAsync(Uri uri, CancellationToken ct)
    {
        if (!string.IsNullOrEmpty(uri.UserInfo))
            throw new ModerationException(ErrorCodes.ForbiddenUrl, "credentials in media URLs are not allowed");
        if (_root is null) throw new ModerationException(ErrorCodes.ForbiddenUrl, "file URLs are not enabled (no media root)");
        // file://localhost/p is file:///p (RFC 8089); any other host would name another machine.
        if (!string.IsNullOrEmpty(uri.Host) && uri.Host != "localhost")
            throw new ModerationException(ErrorCodes.ForbiddenUrl, "file URLs must not name a host");
        if (!uri.IsDefaultPort && uri.Port >= 0)
            throw new ModerationException(ErrorCodes.ForbiddenUrl, "file URLs must not name a port");
        if (!string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
            throw new ModerationException(ErrorCodes.ForbiddenUrl, "file URLs must not have a query or fragment");
        // With a host, Uri.LocalPath is a UNC path (//localhost/p): the path is the unescaped AbsolutePath instead.
        var local = string.IsNullOrEmpty(uri.Host) ? uri.LocalPath : Uri.UnescapeDataString(uri.AbsolutePath);
        if (!SafeText.IsClean(local))
            throw new ModerationException(ErrorCodes.ForbiddenUrl, "file URL path has control or format characters");
        var requested = Path.GetFullPath(local);
        if (!IsUnderRoot(requested)) throw OutsideRoot();
        if (!File.Exists(requested)) throw new ModerationException(ErrorCodes.MediaUnavailable, "media file not found");
        var real = RealPath(requested) ?? throw new ModerationException(ErrorCodes.MediaUnavailable, "media file not found");
        if (!IsUnderRoot(real)) throw OutsideRoot();

        try
        {
            // Only a regular file, checked on the opened descriptor (opened without blocking, so a FIFO cannot stall the
            // partition); the real path is opened without following a link, so none can be swapped in after realpath.
            return await RegularFile.ReadAllBytesAsync(real, _options.MaxBytes, ErrorCodes.ForbiddenUrl, followSymlinks: false, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ModerationException(ErrorCodes.MediaUnavailable, "media file not found");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModerationException(ErrorCodes.MediaUnavailable, $"media file could not be read: {e.GetType().Name}");
        }
    }

    private bool IsUnderRoot(string path) =>
        path.StartsWith(_root!.EndsWith('/') ? _root : _root + "/", StringComparison.Ordinal);

    private static ModerationException OutsideRoot() =>
        new(ErrorCodes.ForbiddenUrl, "file URL points outside the media root");

    private ModerationException TooLarge(long length) =>
        new(ErrorCodes.MediaTooLarge, $"media of {length} bytes exceeds the limit of {_options.MaxBytes}");

    /// <summary>The rules every remote URL must pass before anything is sent, the first and each redirect target.</summary>
    private void CheckRemote(Uri uri)
    {
        if (uri.Scheme != "https" && !(uri.Scheme == "http" && _options.AllowHttp))
            throw new ModerationException(ErrorCodes.ForbiddenUrl, $"URL scheme '{Printable(uri.Scheme)}' is not allowed");
        if (!string.IsNullOrEmpty(uri.UserInfo))
            throw new ModerationException(ErrorCodes.ForbiddenUrl, "credentials in media URLs are not allowed");
        var host = NormaliseHost(uri.IdnHost);
        if (host.Length == 0) throw new ModerationException(ErrorCodes.ForbiddenUrl, "media URL has no host");
        // Address literals in any spelling (0x7f000001, 2130706433, 127.1, [::ffff:7f00:1]) reach here as the
        // address Uri parsed them to; they are refused unless public, whatever the allow-list says.
        if (IPAddress.TryParse(host.Trim('[', ']'), out var literal) && !IsAllowedAddress(literal))
            throw new ModerationException(ErrorCodes.ForbiddenUrl, $"media URL names a non-public address ({Printable(host)})");
        if (!IsAllowedHost(host))
            throw new ModerationException(ErrorCodes.ForbiddenUrl, $"host '{Printable(host)}' is not on the allow-list");
    }

    private bool IsAllowedHost(string host)
    {
        foreach (var exact in _exactHosts)
            if (exact == host) return true;
        foreach (var suffix in _hostSuffixes)
            if (host.Length > suffix.Length && host.EndsWith(suffix, StringComparison.Ordinal)) return true;
        return false;
    }

    private static string NormaliseHost(string host) => host.Trim().TrimEnd('.').ToLowerInvariant();

    private async Task<byte[]> FetchAsync(Uri uri, CancellationToken ct)
    {
        CheckRemote(uri);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.FetchTimeout);
        try
        {
            for (int hop = 0; ; hop++)
            {
                using var response = await _http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
                int status = (int)response.StatusCode;
                if (status is 301 or 302 or 303 or 307 or 308)
                {
                    if (hop >= _options.MaxRedirects)
                        throw new ModerationException(ErrorCodes.ForbiddenUrl, $"more than {_options.MaxRedirects} redirects from {UrlRedactor.Redact(uri)}");
                    var location = response.Headers.Location
                        ?? throw new ModerationException(ErrorCodes.MediaUnavailable, $"redirect without a location from {UrlRedactor.Redact(uri)}");
                    uri = location.IsAbsoluteUri ? location : new Uri(uri, location);
                    CheckRemote(uri);
                    continue;
                }
                if (!response.IsSuccessStatusCode)
                    throw new ModerationException(ErrorCodes.MediaUnavailable, $"{UrlRedactor.Redact(uri)} answered HTTP {status}")
                    {
                        Transient = status is >= 500 or 429 or 408,
                    };
                if (response.Content.Headers.ContentLength is long declared && declared > _options.MaxBytes) throw TooLarge(declared);
                return await ReadCappedAsync(response.Content, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new ModerationException(ErrorCodes.MediaUnavailable, $"fetching {UrlRedactor.Redact(uri)} took longer than {_options.FetchTimeout.TotalSeconds:0.###} s") { Transient = true };
        }
        catch (HttpRequestException e) when (FindModerationException(e) is { } inner)
        {
            throw inner;
        }
        catch (HttpRequestException e)
        {
            throw new ModerationException(ErrorCodes.MediaUnavailable, $"fetching {UrlRedactor.Redact(uri)} failed: {e.HttpRequestError}") { Transient = true };
        }
        catch (IOException e)
        {
            throw new ModerationException(ErrorCodes.MediaUnavailable, $"fetching {UrlRedactor.Redact(uri)} failed: {e.GetType().Name}") { Transient = true };
        }
    }

    private async Task<byte[]> ReadCappedAsync(HttpContent content, CancellationToken ct)
    {
        await using var body = await content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await body.ReadAsync(chunk, ct).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > _options.MaxBytes) throw TooLarge(buffer.Length + read);
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    private static ModerationException? FindModerationException(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
            if (x is ModerationException m) return m;
        return null;
    }

    private bool IsAllowedAddress(IPAddress address) =>
        IsPublic(address) || (_permitLoopback && IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address));

    private async ValueTask<Stream> ConnectToCheckedAddressAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(context.DnsEndPoint.Host.Trim('[', ']'), out var literal)
                ? [literal]
                : await Dns.GetHostAddressesAsync(context.DnsEndPoint.Host, ct).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            throw new ModerationException(ErrorCodes.MediaUnavailable, $"media host could not be resolved ({e.SocketErrorCode})") { Transient = true };
        }
        // A host with any non-public address is refused outright: it is misconfigured or hostile.
        if (addresses.Length == 0 || !addresses.All(IsAllowedAddress))
            throw new ModerationException(ErrorCodes.ForbiddenUrl, "media host resolves to a non-public address");
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, ct).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// False for everything a media fetch must never reach: loopback, private (RFC 1918, IPv6 ULA, site-local),
    /// link-local (incl. cloud metadata 169.254.169.254), CGNAT, multicast, broadcast, unspecified, reserved,
    /// documentation and benchmarking ranges, and IPv6 forms that embed an IPv4 address (mapped, compatible,
    /// 6to4, Teredo, NAT64), which are judged by that address or refused.
    /// </summary>
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
                || (b[0] == 192 && b[1] == 0 && b[2] is 0 or 2)
                || (b[0] == 192 && b[1] == 88 && b[2] == 99)
                || (b[0] == 198 && (b[1] == 18 || b[1] == 19))
                || (b[0] == 198 && b[1] == 51 && b[2] == 100)
                || (b[0] == 203 && b[1] == 0 && b[2] == 113));
        }
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.IPv6None) || address.IsIPv6LinkLocal
                || address.IsIPv6SiteLocal || address.IsIPv6Multicast || address.IsIPv6UniqueLocal) return false;
            var b = address.GetAddressBytes();
            if (b.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0) return false; // ::/96, IPv4-compatible (deprecated)
            if (b[0] == 0x20 && b[1] == 0x02) return false; // 6to4 can embed private IPv4
            if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) return false; // Teredo
            if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return false; // documentation
            if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) return false; // NAT64
            if (b[0] == 0x01 && b[1] == 0 && b.AsSpan(2, 6).IndexOfAnyExcept((byte)0) < 0) return false; // discard-only 100::/64
            return (b[0] & 0xE0) == 0x20; // only global unicast 2000::/3 is routed on the internet
        }
        return false;
    }

    private static string Printable(string s) => SafeText.Escape(s, 101);

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
