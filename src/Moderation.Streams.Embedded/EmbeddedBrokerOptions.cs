namespace Moderation.Streams.Embedded;

/// <summary>How to start an <see cref="EmbeddedKafkaBroker"/>.</summary>
public sealed record EmbeddedBrokerOptions
{
    /// <summary>Number of mock brokers (each listens on its own random 127.0.0.1 port).</summary>
    public int Brokers { get; init; } = 1;

    /// <summary>
    /// A fixed bootstrap port on 127.0.0.1, or <c>null</c> for none. librdkafka 2.16's mock brokers always
    /// bind a kernel-chosen port, so this is a TCP relay to the first broker: clients bootstrap through it
    /// and then talk to the brokers' own advertised (random) ports.
    /// </summary>
    public int? Port { get; init; }

    /// <summary>Partition count of every topic in <see cref="Topics"/>.</summary>
    public int Partitions { get; init; } = 4;

    /// <summary>Topics created at start (consumers never auto-create topics on the mock broker).</summary>
    public IReadOnlyList<string> Topics { get; init; } = Contracts.Topics.All;
}
