using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Worker.Logging;

/// <summary>
/// The console log format of the worker and the verbs that host it: one line per record,
/// <c>TIMESTAMP LEVEL: CATEGORY[EVENT] MESSAGE[ EXCEPTION]</c>, like the simple formatter's single-line mode, but
/// every control, format and separator character and every lone surrogate in the message and the exception text
/// is written as <c>\uXXXX</c> (<see cref="SafeText"/>). Messages quote uploads (a media type, a key, a URL, a
/// parser's view of the bytes); the simple formatter only turns <c>\n</c> into a space, so a CR, ESC, NEL or
/// U+2028 from an upload could forge a log line or drive the terminal. A stack trace is kept on the same line,
/// its frames separated by <c> | </c>.
/// </summary>
public sealed class SafeConsoleFormatter : ConsoleFormatter, IDisposable
{
    public const string FormatterName = "moderation";

    private readonly IDisposable? _reload;
    private SimpleConsoleFormatterOptions _options;

    public SafeConsoleFormatter(IOptionsMonitor<SimpleConsoleFormatterOptions> options) : base(FormatterName)
    {
        _options = options.CurrentValue;
        _reload = options.OnChange(o => _options = o);
    }

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        if (message is null && logEntry.Exception is null) return;
        var line = new StringBuilder(128);
        var options = _options;
        if (options.TimestampFormat is { } format)
            line.Append((options.UseUtcTimestamp ? DateTimeOffset.UtcNow : DateTimeOffset.Now).ToString(format, System.Globalization.CultureInfo.InvariantCulture));
        line.Append(Level(logEntry.LogLevel)).Append(": ").Append(SafeText.Escape(logEntry.Category))
            .Append('[').Append(logEntry.EventId.Id).Append("] ").Append(SafeText.Escape(message));
        if (logEntry.Exception is { } exception)
        {
            line.Append(' ');
            AppendException(line, exception);
        }
        textWriter.Write(line.Append('\n').ToString());
    }

    /// <summary><c>Type: message ---> Inner: message | at frame | at frame</c>, every part escaped.</summary>
    private static void AppendException(StringBuilder line, Exception exception)
    {
        line.Append(exception.GetType().FullName).Append(": ").Append(SafeText.Escape(exception.Message));
        if (exception.InnerException is { } inner)
        {
            line.Append(" ---> ");
            AppendException(line, inner);
        }
        if (exception.StackTrace is { } trace)
            foreach (var frame in trace.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                line.Append(" | ").Append(SafeText.Escape(frame));
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => "none",
    };

    public void Dispose() => _reload?.Dispose();
}
