using System.Net.Sockets;
using System.Runtime.InteropServices;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media;
using static Moderation.Streams.Tests.Shared.Libc;

namespace Moderation.Streams.Media.Tests;

/// <summary>
/// Only regular files under the media root are read. A FIFO would block <c>open()</c> until a writer appears (the
/// partition stops while <c>/readyz</c> stays ready), a device never ends, a socket cannot be read: each is
/// <c>forbidden-url</c> at once. A read that hangs fails the test after a generous bound instead of hanging the run.
/// </summary>
public sealed class SpecialFileTests : IDisposable
{
    private static readonly TimeSpan HangBound = TimeSpan.FromSeconds(30);

    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("media-special-");
    private readonly List<string> _fifos = [];
    private readonly List<Socket> _sockets = [];

    public void Dispose()
    {
        // Release any reader still blocked in open() on one of our FIFOs (only when the code under test is wrong).
        foreach (var fifo in _fifos)
        {
            ReleaseBlockedReaders(fifo);
        }
        foreach (var socket in _sockets) socket.Dispose();
        _root.Delete(true);
    }

    private MediaReader Reader() => new(new MediaOptions { Root = _root.FullName, MaxBytes = 1024 * 1024 });

    private static string UrlOf(string path) => new Uri(path).AbsoluteUri;

    private string Fifo(string name)
    {
        var path = Path.Combine(_root.FullName, name);
        Assert.Equal(0, mkfifo(path, 0x1B6 /* 0666 */));
        _fifos.Add(path);
        return path;
    }

    /// <summary>The read's error code, or a failure if it has not returned within <see cref="HangBound"/>.</summary>
    private static async Task<ModerationException> RefusalOf(MediaReader reader, string url)
    {
        using var cts = new CancellationTokenSource(HangBound);
        // Task.Run: a read that blocks in open() would block the test's own thread, not just the task.
        var read = Task.Run(() => reader.ReadAsync(new MediaRef { Url = url }, cts.Token), CancellationToken.None);
        var bounded = read.WaitAsync(HangBound, TestContext.Current.CancellationToken);
        try
        {
            await bounded;
        }
        catch (TimeoutException)
        {
            Assert.Fail($"reading {url} did not return: it blocked");
        }
        catch (ModerationException e)
        {
            return e;
        }
        Assert.Fail($"reading {url} succeeded");
        return null!;
    }

    [Fact]
    public async Task A_fifo_without_a_writer_is_forbidden_without_blocking()
    {
        using var reader = Reader();
        var e = await RefusalOf(reader, UrlOf(Fifo("pipe.jpg")));
        Assert.Equal(ErrorCodes.ForbiddenUrl, e.Code);
        Assert.Contains("not a regular file (a FIFO)", e.Message);
    }

    [Fact]
    public async Task A_fifo_with_a_writer_is_forbidden_too()
    {
        var path = Fifo("fed.jpg");
        int reading = open(path, ORdOnly | ONonBlock); // lets the writer open without blocking
        int writing = open(path, OWrOnly | ONonBlock);
        try
        {
            Assert.True(writing >= 0);
            using var reader = Reader();
            Assert.Equal(ErrorCodes.ForbiddenUrl, (await RefusalOf(reader, UrlOf(path))).Code);
        }
        finally
        {
            close(writing);
            close(reading);
        }
    }

    [Theory]
    [InlineData("/dev/zero")]
    [InlineData("/dev/null")]
    [InlineData("/dev/urandom")]
    public async Task A_symlink_to_a_device_is_forbidden(string device)
    {
        var link = Path.Combine(_root.FullName, "device.jpg");
        File.CreateSymbolicLink(link, device);
        // The link leaves the root, so it was refused before; a device bind-mounted or created under the root must be too.
        using var reader = Reader();
        Assert.Equal(ErrorCodes.ForbiddenUrl, (await RefusalOf(reader, UrlOf(link))).Code);
    }

    [Fact]
    public async Task A_device_under_the_root_itself_is_forbidden()
    {
        // /dev is a root the way a misconfigured Media:Root could be: the device is then "under the root".
        using var reader = new MediaReader(new MediaOptions { Root = "/dev", MaxBytes = 1024 * 1024 });
        var e = await RefusalOf(reader, "file:///dev/zero");
        Assert.Equal(ErrorCodes.ForbiddenUrl, e.Code);
        Assert.Contains("not a regular file (a character device)", e.Message);
    }

    [Fact]
    public async Task A_unix_socket_is_forbidden()
    {
        var path = Path.Combine(_root.FullName, "socket.jpg");
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _sockets.Add(socket);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        socket.Listen();
        using var reader = Reader();
        Assert.Equal(ErrorCodes.ForbiddenUrl, (await RefusalOf(reader, UrlOf(path))).Code);
    }

    [Fact]
    public async Task Regular_files_are_still_read_also_through_a_symlink_inside_the_root()
    {
        var file = Path.Combine(_root.FullName, "a.png");
        await File.WriteAllBytesAsync(file, [1, 2, 3], TestContext.Current.CancellationToken);
        File.CreateSymbolicLink(Path.Combine(_root.FullName, "b.png"), file);
        using var reader = Reader();
        Assert.Equal(new byte[] { 1, 2, 3 }, await reader.ReadAsync(new MediaRef { Url = UrlOf(file) }, CancellationToken.None));
        Assert.Equal(new byte[] { 1, 2, 3 }, await reader.ReadAsync(new MediaRef { Url = UrlOf(Path.Combine(_root.FullName, "b.png")) }, CancellationToken.None));
    }

    [Fact]
    public async Task File_urls_naming_localhost_are_read_like_those_without_a_host()
    {
        var file = Path.Combine(_root.FullName, "sub dir", "a.png");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        await File.WriteAllBytesAsync(file, [7, 8], TestContext.Current.CancellationToken);
        using var reader = Reader();
        var path = new Uri(file).AbsolutePath; // percent-encoded
        Assert.Equal(new byte[] { 7, 8 }, await reader.ReadAsync(new MediaRef { Url = "file://localhost" + path }, CancellationToken.None));
        Assert.Equal(new byte[] { 7, 8 }, await reader.ReadAsync(new MediaRef { Url = "file://LOCALHOST" + path }, CancellationToken.None));
        foreach (var host in new[] { "localhost.evil.example", "127.0.0.1", "evil.example", "localhost:80" })
            Assert.Equal(ErrorCodes.ForbiddenUrl, (await RefusalOf(reader, "file://" + host + path)).Code);
        // Still confined to the root, and still no traversal through localhost.
        Assert.Equal(ErrorCodes.ForbiddenUrl, (await RefusalOf(reader, "file://localhost/etc/passwd")).Code);
        Assert.Equal(ErrorCodes.ForbiddenUrl, (await RefusalOf(reader, "file://localhost" + path + "/../../../../etc/passwd")).Code);
    }

    [Theory]
    [InlineData("%E2%80%A8")] // U+2028 LINE SEPARATOR
    [InlineData("%C2%85")] // U+0085 NEXT LINE
    [InlineData("%E2%80%AE")] // U+202E RIGHT-TO-LEFT OVERRIDE
    [InlineData("%0A")]
    public async Task File_urls_with_control_or_format_characters_are_forbidden_and_messages_stay_clean(string encoded)
    {
        using var reader = Reader();
        var e = await RefusalOf(reader, UrlOf(_root.FullName) + "/a" + encoded + "b.png");
        Assert.Equal(ErrorCodes.ForbiddenUrl, e.Code);
        Assert.True(SafeText.IsClean(e.Message), e.Message);
    }
}
