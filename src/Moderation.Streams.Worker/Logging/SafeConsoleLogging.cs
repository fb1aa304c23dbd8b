using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Moderation.Streams.Worker.Logging;

public static class SafeConsoleLogging
{
    /// <summary>Console logging through <see cref="SafeConsoleFormatter"/> (unless configuration asks for the JSON
    /// formatter, which escapes control characters itself). <paramref name="configure"/> sets the timestamp format.</summary>
    public static ILoggingBuilder AddSafeConsole(this ILoggingBuilder logging, Action<SimpleConsoleFormatterOptions>? configure = null)
    {
        logging.AddConsole(o =>
        {
            if (o.FormatterName != ConsoleFormatterNames.Json) o.FormatterName = SafeConsoleFormatter.FormatterName;
        });
        logging.AddConsoleFormatter<SafeConsoleFormatter, SimpleConsoleFormatterOptions>(configure ?? (_ => { }));
        return logging;
    }
}
