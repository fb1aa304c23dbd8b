using Microsoft.Extensions.Logging;

namespace Moderation.Streams.Kafka.Tests;

/// <summary>Writes log lines to standard error, where the test runner shows them for failed tests.</summary>
internal sealed class ConsoleTestLogger : ILogger
{
    public static readonly ConsoleTestLogger Instance = new();
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;
    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Console.Error.WriteLine($"[{logLevel}] {formatter(state, exception)}");
}
