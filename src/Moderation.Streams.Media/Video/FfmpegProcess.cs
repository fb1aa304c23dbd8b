using System.ComponentModel;
using System.Diagnostics;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Media.Video;

/// <summary>
/// Runs ffmpeg or ffprobe on bytes given through standard input (the tool never opens a path we did not choose):
/// <c>/bin/sh -c 'ulimit -t CPU; ulimit -v MEM; exec tool args'</c> with an empty environment (no
/// <c>FFREPORT</c>, no proxies), standard output handed to the caller as a stream, standard error read line by
/// line, and a wall-clock timeout after which the process is killed. A run never outlives its call.
/// </summary>
public static class FfmpegProcess
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
        var psi = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        psi.Environment.Clear();
        psi.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin";
        psi.ArgumentList.Add("-c");
        // The script is constant; the tool and its arguments arrive as "$0" "$@", never parsed by the shell.
        psi.ArgumentList.Add(
            (limits.CpuSeconds > 0 ? $"ulimit -t {limits.CpuSeconds} || exit 126; " : "")
            + (limits.MemoryMiB > 0 ? $"ulimit -v {limits.MemoryMiB * 1024L} || exit 126; " : "")
            + "exec \"$0\" \"$@\"");
        psi.ArgumentList.Add(tool);
        foreach (var a in args) psi.ArgumentList.Add(a);

        using var process = new Process { StartInfo = psi };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            throw new ModerationException(ErrorCodes.Internal, $"could not start {Path.GetFileName(tool)}: {e.Message}", e);
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
        // The shell could not run the tool (not found, not executable, limits refused): the worker is broken, not the media.
        if (result.ExitCode is 126 or 127)
            throw new ModerationException(ErrorCodes.Internal, $"could not run {Path.GetFileName(tool)}: {result.LastError}");
        // SIGXCPU (24) at the soft CPU limit, SIGKILL (9) at the hard one: .NET reports 128 + signal.
        if (limits.CpuSeconds > 0 && result.ExitCode is 128 + 24 or 128 + 9)
            throw new ModerationException(ErrorCodes.UndecodableMedia, $"{Path.GetFileName(tool)} ran past its CPU limit of {limits.CpuSeconds} s and was stopped");
        return result;
    }

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
