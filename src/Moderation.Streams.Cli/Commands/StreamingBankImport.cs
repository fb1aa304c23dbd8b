using System.Diagnostics;
using System.Globalization;
using System.Text;
using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing.Banks;
using Spectre.Console;

namespace Moderation.Streams.Cli.Commands;

/// <summary>
/// <c>bank import</c> of a file of any size in constant memory, in two streaming passes over the file:
/// <list type="number">
/// <item>check every row (no Redis): a refused row fails the import with <em>nothing written</em>, as for a small file;</item>
/// <item>read the file again and write it in chunks of <c>--chunk-rows</c> entries (the first chunk empties the bank with
/// <c>--replace</c>, the rest add). Readers see the bank grow chunk by chunk while it is written.</item>
/// </list>
/// Standard input (<c>-</c>) cannot be read twice: it is copied to a temporary file first (disk, not memory) and deleted after.
/// If the file changes between the passes (a row the second pass refuses, or another number of rows) the import stops
/// with exit 1 and says how many entries were already written; so does a Redis failure after the first chunk.
/// Progress goes to stderr: a bar on a terminal, otherwise a line every <see cref="LineEvery"/> or
/// <see cref="LineRows"/> rows (<c>--progress auto|bar|lines|none</c>); an import that showed progress ends with a line
/// giving its time and rows/s.
/// </summary>
internal static class StreamingBankImport
{
    public const int DefaultChunkRows = 50_000;
    public const int MaxChunkRows = 1_000_000;

    /// <summary>Refused rows printed before the rest are only counted (a wrong file would print millions of lines).</summary>
    public const int MaxErrorsShown = 100;

    public const long LineRows = 1_000_000;
    public static readonly TimeSpan LineEvery = TimeSpan.FromSeconds(10);

    /// <summary>How often (rows) the reading loop hands its position to the progress display.</summary>
    private const int ReportEvery = 4_096;

    public static readonly string[] ProgressModes = ["auto", "bar", "lines", "none"];

    /// <summary>What an import read and wrote.</summary>
    /// <param name="LowQuality">Rows whose quality is under the default minimum (they never match).</param>
    public sealed record Result(long Rows, long Version, BankCsvLayout? Layout, int SkippedOtherSignalTypes, long LowQuality);

    /// <summary>The verb's exit code, and what was imported when it is <see cref="ExitCodes.Ok"/>.</summary>
    /// <param name="rows">Opens the row reader of the bank's kind over a pass's text.</param>
    /// <param name="write">Writes one chunk (the first with <c>true</c>) and returns the bank's version after it.</param>
    /// <param name="low">Whether a row's quality is under the default minimum (counted for the summary).</param>
    public static async Task<(int ExitCode, Result? Result)> RunAsync<T>(FileInfo path, string progressMode, int chunkRows,
        Func<TextReader, BankCsv.RowReader> rows, Func<BankCsv.Row, T> entry, Func<List<T>, bool, Task<long>> write, Func<BankCsv.Row, bool> low)
    {
        string? spooled = null;
        try
        {
            FileStream file;
            try
            {
                if (path.Name == "-")
                {
                    spooled = await SpoolStandardInputAsync();
                    file = new FileStream(spooled, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
                }
                else
                {
                    // A named file must be a regular file (a FIFO would block, /dev/zero never end): refused before Redis is written.
                    file = new FileStream(RegularFile.OpenRead(path.FullName, ErrorCodes.UnsupportedMedia), FileAccess.Read, 1);
                }
            }
            catch (ModerationException e)
            {
                return Fail(ExitCodes.Failure, $"{path}: {e.Code}: {e.Message}");
            }
            await using (file)
            {
                var progress = Progress.Create(progressMode, file.Length);
                return await progress.RunAsync(() => ImportAsync(file, path, chunkRows, rows, entry, write, low, progress));
            }
        }
        finally
        {
            if (spooled is not null) File.Delete(spooled);
        }
    }

    private static async Task<(int ExitCode, Result? Result)> ImportAsync<T>(FileStream file, FileInfo path, int chunkRows,
        Func<TextReader, BankCsv.RowReader> rows, Func<BankCsv.Row, T> entry, Func<List<T>, bool, Task<long>> write, Func<BankCsv.Row, bool> low,
        Progress progress)
    {
        // Pass 1: every row checked, nothing written.
        long count = 0, lowQuality = 0, errors = 0;
        BankCsv.RowReader reader;
        try
        {
            reader = rows(Reader(file));
            while (reader.Next(out var row, out var error))
            {
                if (row is not null)
                {
                    count++;
                    if (low(row)) lowQuality++;
                    if (count % ReportEvery == 0) progress.Report(Phase.Check, count, file.Position);
                    continue;
                }
                if (++errors <= MaxErrorsShown) progress.Error($"moderation bank import: line {error!.Line}: {error.Message}");
            }
        }
        catch (BankCsvHeaderException e)
        {
            return Fail(ExitCodes.Usage, $"{path}: {e.Message}");
        }
        progress.Report(Phase.Check, count, file.Position);
        if (errors > 0)
        {
            if (errors > MaxErrorsShown)
                progress.Error($"moderation bank import: {errors} rows refused in all (the first {MaxErrorsShown} shown); nothing written");
            return (ExitCodes.Failure, null);
        }

        // Pass 2: the same bytes again, written chunk by chunk.
        file.Seek(0, SeekOrigin.Begin);
        reader = rows(Reader(file));
        var chunk = new List<T>(chunkRows);
        long written = 0, version = 0;
        bool first = true;
        try
        {
            while (reader.Next(out var row, out var error))
            {
                if (row is null)
                    return Changed($"line {error!.Line} is refused now ({error.Message})", written, version, first);
                chunk.Add(entry(row));
                if (chunk.Count < chunkRows) continue;
                version = await write(chunk, first);
                written += chunk.Count;
                first = false;
                chunk.Clear();
                progress.Report(Phase.Write, written, file.Position);
            }
            if (chunk.Count > 0 || first)
            {
                version = await write(chunk, first);
                written += chunk.Count;
            }
        }
        catch (Exception e) when (!first && e is StackExchange.Redis.RedisException or TimeoutException)
        {
            // Chunks already written stay: say how far it got (before the first chunk, nothing was written and the caller's
            // "Redis unavailable" says all there is).
            return Fail(ExitCodes.Failure, $"Redis unavailable after {written} entries were written (version {version}): {e.Message}; import the file again");
        }
        progress.Report(Phase.Write, written, file.Position);
        if (written != count) return Changed($"{written} rows read now, {count} when it was checked", written, version, false);
        progress.Done(written);
        return (ExitCodes.Ok, new Result(written, version, reader.Layout, reader.SkippedOtherSignalTypes, lowQuality));
    }

    private static StreamReader Reader(FileStream file) => new(file, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16, leaveOpen: true);

    private static (int, Result?) Changed(string what, long written, long version, bool nothingWritten) =>
        Fail(ExitCodes.Failure, $"the file changed while it was imported: {what}; " +
            (nothingWritten ? "nothing written" : $"{written} entries were written (version {version}): import it again"));

    private static (int, Result?) Fail(int exitCode, string message)
    {
        Console.Error.WriteLine($"moderation bank import: {message}");
        return (exitCode, null);
    }

    private static async Task<string> SpoolStandardInputAsync()
    {
        var spooled = Path.Combine(Path.GetTempPath(), $"moderation-bank-import-{Environment.ProcessId}-{Guid.NewGuid():N}.csv");
        await using var stdin = Console.OpenStandardInput();
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite; // the list is nobody else's to read
        await using var copy = new FileStream(spooled, options);
        await stdin.CopyToAsync(copy);
        return spooled;
    }

    internal enum Phase { Check, Write }

    /// <summary>Where the import is, shown on stderr: a Spectre.Console bar (rows, bytes of the file) on a terminal,
    /// plain lines otherwise, or nothing.</summary>
    private abstract class Progress
    {
        protected readonly Stopwatch Clock = Stopwatch.StartNew();
        protected readonly long Total;

        protected Progress(long total) => Total = total;

        public static Progress Create(string mode, long total)
        {
            if (mode == "none") return new Silent(total);
            if (mode == "lines") return new Lines(total);
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            bool bar = mode == "bar" || (!Console.IsErrorRedirected && console.Profile.Capabilities.Interactive);
            return bar ? new Bar(console, total) : new Lines(total);
        }

        public virtual Task<(int, Result?)> RunAsync(Func<Task<(int, Result?)>> import) => import();

        public abstract void Report(Phase phase, long rows, long bytes);

        public virtual void Error(string line) => Console.Error.WriteLine(line);

        /// <summary>The closing line, for an import long enough to have shown progress.</summary>
        public virtual void Done(long rows) { }

        protected string Rate(long rows) => string.Create(CultureInfo.InvariantCulture,
            $"{rows:N0} rows written in {Clock.Elapsed.TotalSeconds:0.0} s ({rows / Math.Max(0.001, Clock.Elapsed.TotalSeconds):N0} rows/s, both passes)");

        protected static string Name(Phase phase) => phase == Phase.Check ? "checking" : "writing";
    }

    private sealed class Silent(long total) : Progress(total)
    {
        public override void Report(Phase phase, long rows, long bytes) { }
    }

    private sealed class Lines(long total) : Progress(total)
    {
        private TimeSpan _lastAt;
        private long _lastRows;
        private Phase _lastPhase;
        private bool _shown;

        public override void Report(Phase phase, long rows, long bytes)
        {
            var now = Clock.Elapsed;
            if (phase != _lastPhase)
            {
                _lastPhase = phase;
                _lastRows = 0;
            }
            if (now - _lastAt < LineEvery && rows - _lastRows < LineRows) return;
            _lastAt = now;
            _lastRows = rows;
            _shown = true;
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"moderation bank import: {Name(phase)}: {rows:N0} rows, {100.0 * bytes / Math.Max(1, Total):0.0}% of {Total / 1048576.0:N1} MiB, {now.TotalSeconds:0.0} s"));
        }

        public override void Done(long rows)
        {
            if (_shown) Console.Error.WriteLine($"moderation bank import: {Rate(rows)}");
        }
    }

    private sealed class Bar(IAnsiConsole console, long total) : Progress(total)
    {
        private ProgressTask? _check;
        private ProgressTask? _write;

        public override async Task<(int, Result?)> RunAsync(Func<Task<(int, Result?)>> import)
        {
            (int, Result?) result = default;
            await console.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .StartAsync(async ctx =>
                {
                    _check = ctx.AddTask("checking", maxValue: Math.Max(1, Total));
                    _write = ctx.AddTask("writing", autoStart: false, maxValue: Math.Max(1, Total));
                    result = await import();
                });
            return result;
        }

        public override void Report(Phase phase, long rows, long bytes)
        {
            var task = phase == Phase.Check ? _check : _write;
            if (task is null) return;
            if (!task.IsStarted) task.StartTask();
            if (phase == Phase.Write && _check is { IsFinished: false }) _check.Value = _check.MaxValue;
            task.Value = Math.Min(bytes, task.MaxValue);
            task.Description = string.Create(CultureInfo.InvariantCulture, $"{Name(phase)} {rows:N0} rows");
        }

        // Spectre redraws the bar from its own thread; a line written meanwhile goes above it.
        public override void Error(string line) => console.MarkupLineInterpolated($"{line}");

        public override void Done(long rows)
        {
            if (_write is not null) _write.Value = _write.MaxValue;
            console.MarkupLineInterpolated($"moderation bank import: {Rate(rows)}");
        }
    }
}
