using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Moderation.Streams.Kafka.Tests;

/// <summary>With the broker down, librdkafka reports an error on every reconnect attempt: the worker logs each kind
/// once per <see cref="KafkaClientLog.Interval"/> (on its clock, here one that does not move), through its own logger
/// only (librdkafka's copy of each error is Debug, not a second line).</summary>
public sealed class ClientErrorLogTests
{
    private sealed class Capturing : ILogger
    {
        public ConcurrentQueue<(LogLevel Level, string Text)> Lines { get; } = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Enqueue((logLevel, formatter(state, exception)));
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class Never : IUploadHandler
    {
        public Task<IReadOnlyList<OutboundMessage>> HandleAsync(Confluent.Kafka.ConsumeResult<byte[]?, byte[]?> upload, CancellationToken ct) =>
            throw new InvalidOperationException("nothing is consumed from a broker that is down");
    }

    [Fact]
    public async Task A_broker_that_stays_down_costs_one_warning_per_kind_of_error_not_one_per_reconnect()
    {
        var logger = new Capturing();
        var options = new KafkaOptions
        {
            BootstrapServers = $"127.0.0.1:{ClosedPort()}",
            GroupId = "g-" + Guid.NewGuid().ToString("N")[..8],
            ShutdownTimeout = TimeSpan.FromSeconds(5),
        };
        options.Properties["reconnect.backoff.ms"] = "10";
        options.Properties["reconnect.backoff.max.ms"] = "50";
        using (var consumer = new UploadConsumer(options, new Never(), logger, new FakeTimeProvider()))
            await Eventually.RunUntil(consumer, () => consumer.ClientErrors >= 20);

        var warnings = logger.Lines.Where(l => l.Level >= LogLevel.Warning).Select(l => l.Text).ToList();
        // Before the fix: a warning per error (20+) from the worker, and librdkafka's own copy of each on stderr.
        Assert.InRange(warnings.Count(w => w.StartsWith("Kafka consumer:", StringComparison.Ordinal)), 1, 2);
        Assert.InRange(warnings.Count(w => w.StartsWith("Kafka producer:", StringComparison.Ordinal)), 0, 2);
        Assert.DoesNotContain(warnings, w => w.StartsWith("librdkafka", StringComparison.Ordinal) && w.Contains("Connect to", StringComparison.Ordinal));
    }
}
