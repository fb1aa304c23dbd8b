using System.Net.Sockets;
using System.Runtime.InteropServices;
using Moderation.Streams.Contracts;
using static Moderation.Streams.Tests.Shared.Libc;

namespace Moderation.Streams.Contracts.Tests;

/// <summary>
/// <see cref="RegularFile"/>: regular files are read whole (through symbolic links when asked), everything else is
/// refused at once with the caller's code, without blocking, and a file over the limit is refused unread.
/// </summary>
public sealed class RegularFileTests : IDisposable
{
    private static readonly TimeSpan HangBound = TimeSpan.FromSeconds(30);
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("regular-file-");
    private readonly List<string> _fifos = [];

    public void Dispose()
    {
        foreach (var fifo in _fifos)
            ReleaseBlockedReaders(fifo);
        _dir.Delete(true);
    }

    private string PathOf(string name) => Path.Combine(_dir.FullName, name);

    /// <summary>Runs a read off the test thread and fails if it has not returned within <see cref="HangBound"/>.</summary>
    private static ModerationException Refusal(Func<object> read)
    {
        var task = Task.Run(read, TestContext.Current.CancellationToken);
        try
        {
            task.Wait(HangBound, TestContext.Current.CancellationToken);
        }
        catch (AggregateException e) when (e.InnerException is ModerationException refused)
        {
            return refused;
        }
        Assert.Fail(task.IsCompleted ? "the read succeeded" : "the read blocked");
        return null!;
    }

    [Fact]
    public void A_regular_file_is_read_and_a_symlink_to_one_is_followed_only_when_asked()
    {
        File.WriteAllBytes(PathOf("a"), [1, 2, 3]);
        File.CreateSymbolicLink(PathOf("link"), PathOf("a"));

        Assert.Equal(new byte[] { 1, 2, 3 }, RegularFile.ReadAllBytes(PathOf("a"), 3));
        Assert.Equal(new byte[] { 1, 2, 3 }, RegularFile.ReadAllBytes(PathOf("link"), 3));
        var e = Refusal(() => RegularFile.ReadAllBytes(PathOf("link"), 3, ErrorCodes.ForbiddenUrl, followSymlinks: false));
        Assert.Equal((ErrorCodes.ForbiddenUrl, "not a regular file (a symbolic link)"), (e.Code, e.Message));
        File.WriteAllBytes(PathOf("bom.txt"), [0xEF, 0xBB, 0xBF, 0xC3, 0xA9, 0x0A]);
        Assert.Equal("é\n", RegularFile.ReadAllText(PathOf("bom.txt"), 10));
    }

    [Fact]
    public void A_file_over_the_limit_is_too_large_unread()
    {
        using (var f = File.Create(PathOf("sparse"))) f.SetLength(1L << 40); // 1 TiB claimed, nothing stored
        var e = Refusal(() => RegularFile.ReadAllBytes(PathOf("sparse"), 1000));
        Assert.Equal((ErrorCodes.MediaTooLarge, $"file of {1L << 40} bytes exceeds the limit of 1000"), (e.Code, e.Message));
    }

    [Fact]
    public void A_fifo_is_refused_without_blocking_with_or_without_a_writer()
    {
        var fifo = PathOf("fifo");
        Assert.Equal(0, mkfifo(fifo, 0x1B6));
        _fifos.Add(fifo);
        Assert.Equal("not a regular file (a FIFO)", Refusal(() => RegularFile.ReadAllBytes(fifo, 1000)).Message);

        int reader = open(fifo, ONonBlock), writer = open(fifo, OWrOnly | ONonBlock);
        try
        {
            Assert.Equal(ErrorCodes.UnsupportedMedia, Refusal(() => RegularFile.ReadAllBytes(fifo, 1000)).Code);
        }
        finally
        {
            close(writer);
            close(reader);
        }
    }

    [Theory]
    [InlineData("/dev/zero", "a character device")]
    [InlineData("/dev/null", "a character device")]
    [InlineData("/tmp", "a directory")]
    public void Devices_and_directories_are_refused(string path, string what)
    {
        Assert.Equal($"not a regular file ({what})", Refusal(() => RegularFile.ReadAllBytes(path, 1000)).Message);
        File.CreateSymbolicLink(PathOf("to"), path);
        Assert.Equal($"not a regular file ({what})", Refusal(() => RegularFile.ReadAllBytes(PathOf("to"), 1000)).Message);
    }

    [Fact]
    public void A_unix_socket_is_refused()
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(PathOf("sock")));
        socket.Listen();
        Assert.StartsWith("not a regular file (", Refusal(() => RegularFile.ReadAllBytes(PathOf("sock"), 1000)).Message);
    }

    [Fact]
    public void A_missing_file_is_the_usual_file_not_found()
    {
        Assert.Throws<FileNotFoundException>(() => RegularFile.ReadAllBytes(PathOf("nope"), 10));
    }

    [Fact]
    public void An_empty_or_null_path_is_an_argument_error()
    {
        Assert.Throws<ArgumentException>(() => RegularFile.ReadAllBytes("", 10));
        Assert.Throws<ArgumentNullException>(() => RegularFile.ReadAllBytes(null!, 10));
    }

    [Fact]
    public void A_file_at_the_limit_is_read_and_one_byte_over_is_too_large()
    {
        File.WriteAllBytes(PathOf("ten"), new byte[10]);
        Assert.Equal(10, RegularFile.ReadAllBytes(PathOf("ten"), 10).Length);
        var e = Assert.Throws<ModerationException>(() => RegularFile.ReadAllBytes(PathOf("ten"), 9));
        Assert.Equal((ErrorCodes.MediaTooLarge, "file of 10 bytes exceeds the limit of 9"), (e.Code, e.Message));
    }

    [Fact]
    public async Task The_async_read_follows_the_same_rules()
    {
        var ct = TestContext.Current.CancellationToken;
        File.WriteAllBytes(PathOf("a"), [1, 2, 3]);
        File.CreateSymbolicLink(PathOf("link"), PathOf("a"));
        Assert.Equal(new byte[] { 1, 2, 3 }, await RegularFile.ReadAllBytesAsync(PathOf("a"), 3, ErrorCodes.ForbiddenUrl, true, ct));
        Assert.Equal(new byte[] { 1, 2, 3 }, await RegularFile.ReadAllBytesAsync(PathOf("link"), 3, ErrorCodes.ForbiddenUrl, true, ct));

        var tooLarge = await Assert.ThrowsAsync<ModerationException>(() => RegularFile.ReadAllBytesAsync(PathOf("a"), 2, ErrorCodes.ForbiddenUrl, true, ct));
        Assert.Equal(ErrorCodes.MediaTooLarge, tooLarge.Code);
        var link = await Assert.ThrowsAsync<ModerationException>(() => RegularFile.ReadAllBytesAsync(PathOf("link"), 3, ErrorCodes.ForbiddenUrl, false, ct));
        Assert.Equal((ErrorCodes.ForbiddenUrl, "not a regular file (a symbolic link)"), (link.Code, link.Message));
        var dir = await Assert.ThrowsAsync<ModerationException>(() => RegularFile.ReadAllBytesAsync(_dir.FullName, 3, ErrorCodes.ForbiddenUrl, true, ct));
        Assert.Equal((ErrorCodes.ForbiddenUrl, "not a regular file (a directory)"), (dir.Code, dir.Message));
    }

    [Fact]
    public void Text_in_utf16_is_read_as_its_byte_order_mark_says()
    {
        File.WriteAllBytes(PathOf("utf16.txt"), [0xFF, 0xFE, 0x41, 0x00, 0xE9, 0x00]);
        Assert.Equal("Aé", RegularFile.ReadAllText(PathOf("utf16.txt"), 10));
        File.WriteAllBytes(PathOf("plain.txt"), [0x41, 0xC3, 0xA9]);
        Assert.Equal("Aé", RegularFile.ReadAllText(PathOf("plain.txt"), 10));
    }

    [Fact]
    public void A_directory_or_a_symbolic_link_refused_directly_says_what_it_is()
    {
        File.WriteAllBytes(PathOf("a"), [1]);
        File.CreateSymbolicLink(PathOf("link"), PathOf("a"));
        var link = Assert.Throws<ModerationException>(() => RegularFile.ReadAllBytes(PathOf("link"), 3, ErrorCodes.ForbiddenUrl, followSymlinks: false));
        Assert.Equal((ErrorCodes.ForbiddenUrl, "not a regular file (a symbolic link)"), (link.Code, link.Message));
        var dir = Assert.Throws<ModerationException>(() => RegularFile.ReadAllBytes(_dir.FullName, 3));
        Assert.Equal((ErrorCodes.UnsupportedMedia, "not a regular file (a directory)"), (dir.Code, dir.Message));
    }

    [Fact]
    public void A_unix_socket_is_refused_as_a_device_without_a_driver()
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(PathOf("sock")));
        var e = Assert.Throws<ModerationException>(() => RegularFile.ReadAllBytes(PathOf("sock"), 1000, ErrorCodes.ForbiddenUrl));
        Assert.Equal((ErrorCodes.ForbiddenUrl, "not a regular file (a socket or a device without a driver)"), (e.Code, e.Message));
    }

    /// <summary>Descriptors of this process that still point at <paramref name="path"/> (the path is unique to the
    /// test, so a descriptor another test opens meanwhile never counts).</summary>
    private static int OpenDescriptorsOn(string path) =>
        Directory.EnumerateFileSystemEntries("/proc/self/fd").Count(fd =>
        {
            try { return new FileInfo(fd).LinkTarget == path; }
            catch (IOException) { return false; } // closed while listed
        });

    [Fact]
    public void Every_descriptor_is_closed_whether_the_file_is_read_or_refused()
    {
        File.WriteAllBytes(PathOf("closed"), [1, 2, 3]);
        RegularFile.ReadAllBytes(PathOf("closed"), 3);
        using (RegularFile.OpenRead(PathOf("closed"), ErrorCodes.UnsupportedMedia)) Assert.Equal(1, OpenDescriptorsOn(PathOf("closed")));
        Assert.Equal(0, OpenDescriptorsOn(PathOf("closed")));

        var dir = Directory.CreateDirectory(PathOf("refused-dir")).FullName;
        Assert.Throws<ModerationException>(() => RegularFile.ReadAllBytes(dir, 3));
        Assert.Equal(0, OpenDescriptorsOn(dir));
    }

    [Fact]
    public void A_missing_file_names_its_path_and_other_open_failures_are_io_errors()
    {
        var missing = Assert.Throws<FileNotFoundException>(() => RegularFile.ReadAllBytes(PathOf("nope"), 10));
        Assert.Equal(($"no such file: {PathOf("nope")}", PathOf("nope")), (missing.Message, missing.FileName));
        File.WriteAllBytes(PathOf("file"), [1]);
        Assert.Throws<FileNotFoundException>(() => RegularFile.ReadAllBytes(Path.Combine(PathOf("file"), "child"), 10)); // ENOTDIR

        File.CreateSymbolicLink(PathOf("loop-a"), PathOf("loop-b"));
        File.CreateSymbolicLink(PathOf("loop-b"), PathOf("loop-a"));
        var loop = Assert.Throws<IOException>(() => RegularFile.ReadAllBytes(PathOf("loop-a"), 10));
        Assert.StartsWith($"cannot open {PathOf("loop-a")}: ", loop.Message, StringComparison.Ordinal);
        Assert.IsNotType<ModerationException>(loop);
    }
}
