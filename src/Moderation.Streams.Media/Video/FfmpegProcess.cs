using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Media.Video;

/// <summary>
/// Runs ffmpeg or ffprobe on bytes given through standard input (the tool never opens a path we did not choose):
/// the executable itself, found on PATH (<see cref="Resolve"/>), started directly with its arguments as a list (no
/// shell: the runtime images have none) and an empty environment but PATH (no <c>FFREPORT</c>, no proxies). Its
/// CPU-time and address-space limits are set on the child with <c>prlimit(2)</c> before a byte of input is written
/// (until then the tool can only parse its arguments and wait on standard input). Standard output is handed to the
/// caller as a stream, standard error read line by line, and a wall-clock timeout kills the process. A run never
/// outlives its call.
/// </summary>
public static partial class FfmpegProcess
{
    /// <summary>Lines of standard error kept for the error message.</summary>
    private const int TailLines = 8;

    public sealed record Result(int ExitCode, IReadOnlyList<string> StderrTail)
    {
        /// <summary>The last meaningful line of standard error, shortened, for an error message.</summary>
        public string LastError => StderrTail.Count == 0 ? "no message" : Shorten(StderrTail[^1]);
    }

    /// <param name="readStdout">Consumes standard output to its end (or stops early; the rest is drained).</param>
    /// <param name="onStderrLine">Sees every standard-error line, on the reader's thread.</param>
    /// <exception cref="ModerationException">undecodable-media when the tool ran past <paramref name="timeout"/>
    /// or past its CPU limit; internal when it could not be started.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was cancelled (the process is killed).</exception>
    public static async Task<Result> RunAsync(string tool, IReadOnlyList<string> args, ReadOnlyMemory<byte> stdin,
        Func<Stream, CancellationToken, Task> readStdout, Action<string>? onStderrLine, VideoLimits limits, TimeSpan timeout, CancellationToken ct)
    {
        var path = Resolve(tool) ?? throw new ModerationException(ErrorCodes.Internal, NotFound(tool));
        var psi = new ProcessStartInfo(path)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        psi.Environment.Clear();
        psi.Environment["PATH"] = SearchPath;
        foreach (var a in args) psi.ArgumentList.Add(a);

        using var process = new Process { StartInfo = psi };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new ModerationException(ErrorCodes.Internal, $"could not start {Path.GetFileName(tool)} ({path}): {e.Message}", e);
        }
        if (LimitFailure(process.Id, limits) is { } limitFailure)
        {
            Kill(process);
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            throw new ModerationException(ErrorCodes.Internal, $"could not limit {Path.GetFileName(tool)}: {limitFailure}");
        }

        using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timer.CancelAfter(timeout);
        var token = timer.Token;
        var tail = new Queue<string>(TailLines);
        var stderr = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync(CancellationToken.None).ConfigureAwait(false) is { } line)
            {
                onStderrLine?.Invoke(line);
                if (tail.Count == TailLines) tail.Dequeue();
                tail.Enqueue(line);
            }
        }, CancellationToken.None);
        var writer = Task.Run(async () =>
        {
            var input = process.StandardInput.BaseStream;
            try
            {
                await input.WriteAsync(stdin, token).ConfigureAwait(false);
                await input.FlushAsync(token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
            {
                // The tool stopped reading (it had what it needed, failed, or was killed): its exit code says which.
            }
            finally
            {
                try { input.Close(); } catch (IOException) { }
            }
        }, CancellationToken.None);
        var reader = Task.Run(async () =>
        {
            var output = process.StandardOutput.BaseStream;
            try
            {
                await readStdout(output, token).ConfigureAwait(false);
            }
            finally
            {
                // Whatever the consumer left is drained so that the tool never blocks on a full pipe.
                try { await output.CopyToAsync(Stream.Null, token).ConfigureAwait(false); }
                catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException) { }
            }
        }, CancellationToken.None);

        using (token.Register(() => Kill(process)))
        {
            try
            {
                await process.WaitForExitAsync(token).ConfigureAwait(false);
                await Task.WhenAll(writer, reader, stderr).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                Kill(process);
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                await Task.WhenAll(writer, stderr).ConfigureAwait(false);
                try { await reader.ConfigureAwait(false); } catch (OperationCanceledException) { } catch (IOException) { }
                ct.ThrowIfCancellationRequested();
                throw new ModerationException(ErrorCodes.UndecodableMedia,
                    $"{Path.GetFileName(tool)} ran past its time limit of {timeout.TotalSeconds:0.#} s and was stopped");
            }
            catch
            {
                Kill(process);
                throw;
            }
        }

        var result = new Result(process.ExitCode, tail.ToArray());
        // SIGXCPU (24) at the soft CPU limit, SIGKILL (9) at the hard one: .NET reports 128 + signal.
        if (limits.CpuSeconds > 0 && result.ExitCode is 128 + 24 or 128 + 9)
            throw new ModerationException(ErrorCodes.UndecodableMedia, $"{Path.GetFileName(tool)} ran past its CPU limit of {limits.CpuSeconds} s and was stopped");
        return result;
    }

    /// <summary>The PATH the tools are looked up on and run with: the worker's own.</summary>
    private static string SearchPath => Environment.GetEnvironmentVariable("PATH") is { Length: > 0 } path ? path : "/usr/local/bin:/usr/bin:/bin";

    /// <summary>
    /// The executable <paramref name="tool"/> names: a path (anything with a '/') as it is, otherwise the first
    /// executable file of that name in a PATH directory (never the working directory); null when there is none.
    /// </summary>
    public static string? Resolve(string tool)
    {
        if (string.IsNullOrWhiteSpace(tool)) return null;
        if (tool.Contains('/')) return IsExecutableFile(tool) ? Path.GetFullPath(tool) : null;
        foreach (var directory in SearchPath.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!Path.IsPathRooted(directory)) continue;
            var candidate = Path.Combine(directory, tool);
            if (IsExecutableFile(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>What to say when <see cref="Resolve"/> finds nothing: where it looked and what to do.</summary>
    public static string NotFound(string tool) => tool.Contains('/')
        ? $"{tool} is not an executable file"
        : $"{tool} not found on PATH ({SearchPath})";

    private static bool IsExecutableFile(string path)
    {
        try
        {
            if (!File.Exists(path)) return false;
            if (OperatingSystem.IsWindows()) return true;
            return (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Sets the CPU-time and address-space limits of process <paramref name="pid"/>; null when done (or the
    /// process already exited), else why not.</summary>
    private static unsafe string? LimitFailure(int pid, VideoLimits limits)
    {
        if (!OperatingSystem.IsLinux()) return limits.CpuSeconds > 0 || limits.MemoryMiB > 0 ? "process limits need Linux (prlimit)" : null;
        // Soft CPU limit: SIGXCPU; one second later the hard limit: SIGKILL (both mapped to undecodable-media).
        if (limits.CpuSeconds > 0 && SetLimit(pid, RlimitCpu, (ulong)limits.CpuSeconds, (ulong)limits.CpuSeconds + 1) is { } cpu) return $"RLIMIT_CPU: {cpu}";
        if (limits.MemoryMiB > 0)
        {
            ulong bytes = (ulong)limits.MemoryMiB * 1024 * 1024;
            if (SetLimit(pid, RlimitAs, bytes, bytes) is { } memory) return $"RLIMIT_AS: {memory}";
        }
        return null;

        static string? SetLimit(int pid, int resource, ulong soft, ulong hard)
        {
            var limit = new Rlimit { Current = soft, Maximum = hard };
            if (Prlimit(pid, resource, &limit, null) == 0) return null;
            int errno = Marshal.GetLastPInvokeError();
            return errno == Esrch ? null : $"prlimit failed with errno {errno}";
        }
    }

    private const int RlimitCpu = 0;
    private const int RlimitAs = 9;
    private const int Esrch = 3;

    [StructLayout(LayoutKind.Sequential)]
    private struct Rlimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "prlimit64", SetLastError = true)]
    private static unsafe partial int Prlimit(int pid, int resource, Rlimit* newLimit, Rlimit* oldLimit);

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception or NotSupportedException)
        {
            // Already gone.
        }
    }

    internal static string Shorten(string line)
    {
        // ffmpeg prefixes lines with "[demuxer @ 0x55d…] "; the pointer is noise.
        var text = System.Text.RegularExpressions.Regex.Replace(line, @" @ 0x[0-9a-fA-F]+\]", "]");
        text = new string(text.Where(c => !char.IsControl(c)).ToArray()).Trim();
        return text.Length <= 200 ? text : text[..200] + "…";
    }
}
