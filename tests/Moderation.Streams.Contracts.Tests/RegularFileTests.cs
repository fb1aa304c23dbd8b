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
}
