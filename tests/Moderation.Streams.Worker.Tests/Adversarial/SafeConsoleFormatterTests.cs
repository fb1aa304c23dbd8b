using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Moderation.Streams.Contracts;
using Moderation.Streams.Worker.Logging;

namespace Moderation.Streams.Worker.Tests.Adversarial;

/// <summary>
/// The worker's console format (<see cref="SafeConsoleFormatter"/>, as <see cref="SafeConsoleLogging.AddSafeConsole"/>
/// registers it): whatever an upload puts in a message or an exception, a record is one line with no control,
/// format or separator character, so a log line cannot be forged and a terminal cannot be driven.
/// </summary>
public sealed class SafeConsoleFormatterTests : IDisposable
{
    private const string Hostile = "image\r\n12:00:00.000 info: Forged[0] all clear\u001b[2J\u001b]0;title\u0007\u2028\u2029\u0085\u202Etxt.exe\uD800\0end";

    private readonly ServiceProvider _services = new ServiceCollection()
        .AddLogging(b => b.AddSafeConsole(o => o.TimestampFormat = null))
        .BuildServiceProvider();

    public void Dispose() => _services.Dispose();

    private string Format(string message, Exception? exception = null, LogLevel level = LogLevel.Information)
    {
        var formatter = _services.GetServices<ConsoleFormatter>().Single(f => f.Name == SafeConsoleFormatter.FormatterName);
        using var output = new StringWriter();
        formatter.Write(new LogEntry<string>(level, "Moderation.Streams.Worker", new EventId(7), message, exception, (s, _) => s), null, output);
        return output.ToString();
    }

    private static void AssertOneCleanLine(string text)
    {
        Assert.EndsWith("\n", text);
        var line = text[..^1];
        Assert.True(SafeText.IsClean(line), SafeText.Escape(line));
    }

    [Fact]
    public void A_plain_message_keeps_the_simple_single_line_format()
    {
        Assert.Equal("info: Moderation.Streams.Worker[7] DLQ invalid-event for ? at uploads [[0]] @3: empty event\n",
            Format("DLQ invalid-event for ? at uploads [[0]] @3: empty event"));
        Assert.StartsWith("fail: ", Format("x", level: LogLevel.Error));
    }

    [Fact]
    public void Control_format_and_separator_characters_in_a_message_are_escaped_on_one_line()
    {
        var text = Format("DLQ unsupported-media: media_type '" + Hostile + "'");

        AssertOneCleanLine(text);
        Assert.Contains(@"image\u000D\u000A12:00:00.000 info: Forged[0] all clear\u001B[2J\u001B]0;title\u0007\u2028\u2029\u0085\u202Etxt.exe\uD800\u0000end", text);
    }

    [Fact]
    public void An_exception_with_hostile_messages_stays_on_one_clean_line_with_its_stack()
    {
        Exception thrown;
        try
        {
            try
            {
                throw new FormatException("inner " + Hostile);
            }
            catch (FormatException inner)
            {
                throw new InvalidOperationException("outer " + Hostile, inner);
            }
        }
        catch (InvalidOperationException e)
        {
            thrown = e;
        }

        var text = Format("Internal error screening uploads [[0]] @9", thrown, LogLevel.Error);

        AssertOneCleanLine(text);
        Assert.Contains(@"System.InvalidOperationException: outer image\u000D\u000A", text);
        Assert.Contains(@" ---> System.FormatException: inner image\u000D\u000A", text);
        Assert.Contains(" | at " + typeof(SafeConsoleFormatterTests).FullName, text);
    }
}
