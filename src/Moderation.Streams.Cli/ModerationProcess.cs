using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Moderation.Streams.Cli;

/// <summary>
/// The <c>moderation</c> executable running as a child process (used by <c>chaos</c> and by the tests): its
/// stdout and stderr lines are collected as they arrive (and kept for messages), a caller can wait for a
/// line, signal the process and collect its exit code. Dispose always kills the whole process tree.
/// </summary>
/// <remarks>Waits take a deadline that only bounds a failure; nothing here measures how long anything took.</remarks>
public sealed partial class ModerationProcess : IDisposable
{
    public const int SIGINT = 2;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    /// <summary>Default deadline for <see cref="WaitForLineAsync"/> and <see cref="WaitForExitAsync"/>.</summary>
    public static readonly TimeSpan DefaultDeadline = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly object _gate = new();
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];
    private readonly List<(Func<string, bool> Match, TaskCompletionSource<string> Found)> _waiters = [];
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _disposed;

    private ModerationProcess(Process process, string commandLine)
    {
        _process = process;
        CommandLine = commandLine;
    }

    /// <summary>What was started, for messages.</summary>
    public string CommandLine { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The child's stdin (redirected, so it never reads the test runner's).</summary>
    public StreamWriter StandardInput => _process.StandardInput;

    public IReadOnlyList<string> StdoutLines { get { lock (_gate) return [.. _stdout]; } }

    public IReadOnlyList<string> StderrLines { get { lock (_gate) return [.. _stderr]; } }

    /// <summary>Path of <c>moderation.dll</c> (this assembly; next to the tests when they reference the Cli project).</summary>
    public static string ModerationDll
    {
        get
        {
            var path = typeof(ModerationProcess).Assembly.Location;
            if (!File.Exists(path)) throw new FileNotFoundException("moderation.dll was not found", path);
            return path;
        }
    }

    /// <summary>
    /// The <c>dotnet</c> host: the current process when it runs under <c>dotnet</c>, else the host of the
    /// running runtime (an apphost such as a test exe), else <c>dotnet</c> from PATH.
    /// </summary>
    public static string DotnetHost
    {
        get
        {
            var current = Environment.ProcessPath;
            if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet") return current;
            if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } hostPath && File.Exists(hostPath)) return hostPath;
            // <root>/shared/Microsoft.NETCore.App/<version>/ → <root>/dotnet
            var runtimeDir = RuntimeEnvironment.GetRuntimeDirectory().TrimEnd(Path.DirectorySeparatorChar);
            var root = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(runtimeDir)));
            if (root is not null && File.Exists(Path.Combine(root, "dotnet"))) return Path.Combine(root, "dotnet");
            return "dotnet";
        }
    }

    /// <summary>Starts <c>moderation ARGS…</c>; <paramref name="environment"/> adds variables (a null value removes one).</summary>
    public static ModerationProcess Start(IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(DotnetHost)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(ModerationDll);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.Environment["DOTNET_NOLOGO"] = "1";
        if (environment is not null)
        {
            foreach (var (name, value) in environment)
            {
                if (value is null) info.Environment.Remove(name);
                else info.Environment[name] = value;
            }
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var cli = new ModerationProcess(process, "moderation " + string.Join(' ', info.ArgumentList.Skip(1)));
        process.OutputDataReceived += (_, e) => cli.OnLine(e.Data, cli._stdout, cli._stdoutClosed, matchWaiters: true);
        process.ErrorDataReceived += (_, e) => cli.OnLine(e.Data, cli._stderr, cli._stderrClosed, matchWaiters: false);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return cli;
    }

    /// <summary>Runs <c>moderation ARGS…</c> to completion (killed at the deadline) and returns it, exited.</summary>
    public static async Task<ModerationProcess> RunAsync(IEnumerable<string> args, IReadOnlyDictionary<string, string?>? environment = null, TimeSpan? deadline = null, CancellationToken ct = default)
    {
        var cli = Start(args, environment);
        try
        {
            await cli.WaitForExitAsync(deadline, ct);
            return cli;
        }
        catch
        {
            cli.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The first stdout line (already seen or still to come) matching <paramref name="predicate"/>.
    /// Throws <see cref="TimeoutException"/> at the deadline, or <see cref="InvalidOperationException"/>
    /// if stdout closes first; both messages carry the transcript.
    /// </summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> predicate, TimeSpan? deadline = null, CancellationToken ct = default)
    {
        TaskCompletionSource<string> found;
        lock (_gate)
        {
            foreach (var line in _stdout)
                if (predicate(line)) return line;
            if (_stdoutClosed.Task.IsCompleted)
                throw new InvalidOperationException($"stdout closed without a matching line.\n{Transcript()}");
            found = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((predicate, found));
        }

        var limit = deadline ?? DefaultDeadline;
        try
        {
            return await found.Task.WaitAsync(limit, ct);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"No matching stdout line within the {limit.TotalSeconds:0.#} s deadline.\n{Transcript()}");
        }
        finally
        {
            lock (_gate) _waiters.RemoveAll(w => w.Found == found);
        }
    }

    /// <summary>Sends a POSIX signal (<see cref="SIGTERM"/>, <see cref="SIGINT"/>, <see cref="SIGKILL"/>…) to the process.</summary>
    public void Signal(int signal)
    {
        if (kill(_process.Id, signal) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (!_process.HasExited) throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {errno}.");
        }
    }

    public void Terminate() => Signal(SIGTERM);

    public void Kill() => Signal(SIGKILL);

    /// <summary>Waits for the exit and for both output streams to drain; returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? deadline = null, CancellationToken ct = default)
    {
        var limit = deadline ?? DefaultDeadline;
        try
        {
            await _process.WaitForExitAsync(ct).WaitAsync(limit, ct);
            await Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task).WaitAsync(limit, ct);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The process did not exit within the {limit.TotalSeconds:0.#} s deadline.\n{Transcript()}");
        }
        return _process.ExitCode;
    }

    /// <summary>Exit code, stdout and stderr so far, for assertion messages.</summary>
    public string Transcript()
    {
        lock (_gate)
        {
            var text = new StringBuilder();
            text.Append("$ ").AppendLine(CommandLine);
            if (_process.HasExited) text.Append("exit code ").Append(_process.ExitCode).AppendLine();
            text.AppendLine("--- stdout ---");
            foreach (var line in _stdout) text.AppendLine(line);
            text.AppendLine("--- stderr ---");
            foreach (var line in _stderr) text.AppendLine(line);
            return text.ToString();
        }
    }

    public override string ToString() => Transcript();

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Exited between the check and the kill.
        }
        _process.Dispose();
    }

    private void OnLine(string? line, List<string> lines, TaskCompletionSource closed, bool matchWaiters)
    {
        lock (_gate)
        {
            if (line is null)
            {
                closed.TrySetResult();
                if (matchWaiters)
                {
                    foreach (var (_, found) in _waiters)
                        found.TrySetException(new InvalidOperationException($"stdout closed without a matching line.\n{Transcript()}"));
                }
                return;
            }
            lines.Add(line);
            if (!matchWaiters) return;
            foreach (var (match, found) in _waiters)
                if (match(line)) found.TrySetResult(line);
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}
