using System.Diagnostics;

namespace Moderation.Streams.Cli.Tests;

/// <summary>Runs <c>kcat</c> (apt package <c>kcat</c>), the reference Kafka client these tests check against.</summary>
internal static class Kcat
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"kcat exit code {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
    }

    /// <summary>The kcat executable on PATH; the test fails (never skips) without it — the test command installs it.</summary>
    public static string Path
    {
        get
        {
            var found = (Environment.GetEnvironmentVariable("PATH") ?? "")
                .Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
                .Select(dir => System.IO.Path.Combine(dir, "kcat"))
                .FirstOrDefault(File.Exists);
            if (found is null)
                Assert.Fail("kcat is not on PATH. Install it (apt-get install -y kcat); the test command is expected to provide it.");
            return found;
        }
    }

    public static async Task<Result> RunAsync(IEnumerable<string> args, CancellationToken ct, TimeSpan? deadline = null)
    {
        var info = new ProcessStartInfo(Path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("kcat did not start.");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        var limit = deadline ?? TimeSpan.FromSeconds(30);
        try
        {
            await process.WaitForExitAsync(ct).WaitAsync(limit, ct);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"kcat {string.Join(' ', args)} did not finish within {limit.TotalSeconds} s.");
        }
        return new Result(process.ExitCode, await stdout, await stderr);
    }
}
