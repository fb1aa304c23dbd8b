using System.Runtime.InteropServices;

namespace Moderation.Streams.Tests.Shared;

/// <summary>The few libc calls the hostile-file tests need (FIFOs; .NET has no mkfifo). Linked into each test project
/// that makes special files, so the declarations live once.</summary>
internal static class Libc
{
    public const int ORdOnly = 0, OWrOnly = 1, ONonBlock = 0x800;

    [DllImport("libc", SetLastError = true)]
    public static extern int mkfifo([MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mode);

    [DllImport("libc", SetLastError = true)]
    public static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc")]
    public static extern int close(int fd);

    /// <summary>Opens the FIFO's write end without blocking and closes it again: a reader wrongly blocked in
    /// <c>open()</c> on it (only when the code under test is wrong) is released instead of hanging the test run.</summary>
    public static void ReleaseBlockedReaders(string fifo)
    {
        int fd = open(fifo, OWrOnly | ONonBlock);
        if (fd >= 0) close(fd);
    }
}
