using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Moderation.Streams.Contracts;

/// <summary>
/// Reads files that someone else named (a media URL, a verb's FILE argument, a policy file) only when they are
/// regular files, and never more than a limit. A FIFO would block <c>open()</c> until a writer appears (and then
/// stream forever), <c>/dev/zero</c> and other devices never end, a socket cannot be read at all: each is refused
/// without blocking. The file is opened with <c>O_NONBLOCK</c> and its type is taken from the opened descriptor
/// (<c>statx</c> with <c>AT_EMPTY_PATH</c>), so nothing can be swapped in between a check and the open.
/// Linux only, like the rest of the product (linux-x64).
/// </summary>
public static class RegularFile
{
    /// <summary>Opens a regular file for reading. Something else (FIFO, device, socket, directory, or a symbolic link
    /// where links are not followed) is a <see cref="ModerationException"/> with the caller's code, whose message
    /// (<c>not a regular file (a FIFO)</c>) does not repeat the path.</summary>
    public static SafeFileHandle OpenRead(string path, string refusedCode, bool followSymlinks = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        int flags = ORdOnly | ONonBlock | ONoCtty | OCloExec | (followSymlinks ? 0 : ONoFollow);
        int fd;
        do fd = open(path, flags);
        while (fd < 0 && Marshal.GetLastPInvokeError() == EINTR);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw errno switch
            {
                ENOENT or ENOTDIR => new FileNotFoundException($"no such file: {path}", path),
                EACCES or EPERM => new UnauthorizedAccessException($"permission denied: {path}"),
                ELOOP when !followSymlinks => NotRegular("a symbolic link", refusedCode),
                ENXIO => NotRegular("a socket or a device without a driver", refusedCode),
                _ => new IOException($"cannot open {path}: {Marshal.GetPInvokeErrorMessage(errno)}"),
            };
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            int mode = FileType(handle);
            if (mode != SIfReg) throw NotRegular(Describe(mode), refusedCode);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>All bytes of a regular file of at most <paramref name="maxBytes"/> bytes; larger is
    /// <c>media-too-large</c>, not a regular file is <paramref name="refusedCode"/>. A missing or unreadable file
    /// throws the usual <see cref="IOException"/> / <see cref="UnauthorizedAccessException"/>.</summary>
    public static byte[] ReadAllBytes(string path, long maxBytes, string refusedCode = ErrorCodes.UnsupportedMedia, bool followSymlinks = true)
    {
        using var handle = OpenRead(path, refusedCode, followSymlinks);
        var bytes = new byte[CheckedLength(handle, maxBytes)];
        int total = 0;
        while (total < bytes.Length)
        {
            int read = RandomAccess.Read(handle, bytes.AsSpan(total), total);
            if (read == 0) break; // the file shrank since it was measured
            total += read;
        }
        return total == bytes.Length ? bytes : bytes[..total];
    }

    /// <inheritdoc cref="ReadAllBytes"/>
    public static async Task<byte[]> ReadAllBytesAsync(string path, long maxBytes, string refusedCode, bool followSymlinks, CancellationToken ct)
    {
        using var handle = OpenRead(path, refusedCode, followSymlinks);
        var bytes = new byte[CheckedLength(handle, maxBytes)];
        int total = 0;
        while (total < bytes.Length)
        {
            int read = await RandomAccess.ReadAsync(handle, bytes.AsMemory(total), total, ct).ConfigureAwait(false);
            if (read == 0) break;
            total += read;
        }
        return total == bytes.Length ? bytes : bytes[..total];
    }

    /// <summary>A text file (UTF-8, or as its byte order mark says) under the same rules as <see cref="ReadAllBytes"/>.</summary>
    public static string ReadAllText(string path, long maxBytes, string refusedCode = ErrorCodes.UnsupportedMedia)
    {
        var bytes = ReadAllBytes(path, maxBytes, refusedCode);
        using var reader = new StreamReader(new MemoryStream(bytes), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();
    }

    private static int CheckedLength(SafeFileHandle handle, long maxBytes)
    {
        long length = RandomAccess.GetLength(handle);
        if (length > maxBytes || length > Array.MaxLength)
            throw new ModerationException(ErrorCodes.MediaTooLarge, $"file of {length} bytes exceeds the limit of {maxBytes}");
        return (int)length;
    }

    private static ModerationException NotRegular(string what, string code) =>
        new(code, $"not a regular file ({what})");

    private static string Describe(int type) => type switch
    {
        SIfIfo => "a FIFO",
        SIfChr => "a character device",
        SIfBlk => "a block device",
        SIfSock => "a socket",
        SIfDir => "a directory",
        SIfLnk => "a symbolic link",
        _ => $"file type 0x{type:X}",
    };

    /// <summary>The <c>S_IFMT</c> bits of an open descriptor. <c>statx</c>'s layout is the same on every Linux
    /// architecture (unlike <c>struct stat</c>): <c>stx_mode</c> is the 16-bit field at offset 28.</summary>
    private static int FileType(SafeFileHandle handle)
    {
        var buffer = new byte[256];
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int rc = statx((int)handle.DangerousGetHandle(), "", AtEmptyPath, StatxType, buffer);
            if (rc != 0) throw new IOException($"statx failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
        return BitConverter.ToUInt16(buffer, 28) & SIfMt;
    }

    private const int ORdOnly = 0, ONoCtty = 0x100, ONonBlock = 0x800, OCloExec = 0x80000;

    // O_NOFOLLOW is 0400000 on x86 and most others, 0100000 on ARM.
    private static readonly int ONoFollow = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x8000 : 0x20000;

    private const int AtEmptyPath = 0x1000, StatxType = 0x1;
    private const int SIfMt = 0xF000, SIfIfo = 0x1000, SIfChr = 0x2000, SIfDir = 0x4000, SIfBlk = 0x6000, SIfReg = 0x8000, SIfLnk = 0xA000, SIfSock = 0xC000;
    private const int EPERM = 1, ENOENT = 2, ENXIO = 6, EINTR = 4, EACCES = 13, ENOTDIR = 20, ELOOP = 40;

    [DllImport("libc", SetLastError = true)]
    private static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int statx(int dirfd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, int mask, [Out] byte[] buffer);
}
