using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Kafka;

/// <summary>
/// librdkafka's errors and log lines through the worker's logger, rate-limited (<see cref="LogThrottle"/>): with the broker
/// down, one line per kind of error per <see cref="Interval"/> instead of one per reconnect attempt, and never twice (an
/// error librdkafka reports to the error callback it also logs at level error: that copy goes to Debug).
/// </summary>
public static class KafkaClientLog
{
    /// <summary>How long repeats of one kind of client error are only counted.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);

    /// <summary>A client-level error (error callback, consume error): fatal ones always, others once per code per interval.</summary>
    public static void Error(ILogger logger, LogThrottle throttle, string what, Error error)
    {
        long suppressed = 0;
        if (!error.IsFatal && !throttle.ShouldLog($"{what}:{error.Code}", out suppressed)) return;
        var level = error.IsFatal ? LogLevel.Critical : LogLevel.Warning;
        if (suppressed > 0)
            logger.Log(level, "{What}: {Reason} (and {Suppressed} more like it in the last {Interval}, not logged)", what, error.Reason, suppressed, throttle.Interval);
        else
            logger.Log(level, "{What}: {Reason}", what, error.Reason);
    }

    /// <summary>One of librdkafka's own log lines (instead of its default, straight to stderr).</summary>
    public static void Log(ILogger logger, LogThrottle throttle, string client, LogMessage message)
    {
        // Syslog levels: 0-3 are errors, which the error callback reports too.
        if (message.Level <= SyslogLevel.Error || message.Level >= SyslogLevel.Info)
        {
            logger.LogDebug("librdkafka {Client} {Facility}: {Message}", client, message.Facility, message.Message);
            return;
        }
        if (!throttle.ShouldLog($"log:{client}:{message.Facility}", out long suppressed)) return;
        if (suppressed > 0)
            logger.LogWarning("librdkafka {Client} {Facility}: {Message} (and {Suppressed} more in the last {Interval}, not logged)", client, message.Facility, message.Message, suppressed, throttle.Interval);
        else
            logger.LogWarning("librdkafka {Client} {Facility}: {Message}", client, message.Facility, message.Message);
    }
}
