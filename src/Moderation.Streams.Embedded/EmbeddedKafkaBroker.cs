using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Moderation.Streams.Embedded;

/// <summary>
/// A Kafka-protocol broker inside this process: librdkafka's mock cluster (the one Confluent.Kafka ships),
/// listening on 127.0.0.1. Any Kafka client, in this process or another, connects over TCP.
/// </summary>
/// <remarks>
/// <para>For development and tests only; it differs from real Kafka: no admin API (CreateTopics times out,
/// create topics with <see cref="CreateTopic"/>), consumers never auto-create topics, OffsetsForTimes
/// answers End for every timestamp, transactions answer OK but are not really stored, retention is about
/// 5 MiB per partition (older data silently dropped), rebalances after the first join take
/// <c>session.timeout.ms − 1000</c>, and everything lives in RAM.</para>
/// <para>Brokers bind kernel-chosen ports: librdkafka 2.16 binds 127.0.0.1:0 and has no way to choose the
/// listen port (<c>rd_kafka_mock_broker_set_host_port</c> only changes the address advertised in metadata).
/// <see cref="EmbeddedBrokerOptions.Port"/> adds a fixed bootstrap port: a TCP relay to the first broker.
/// Clients bootstrap through it and then connect to the brokers' advertised random ports, so only the
/// bootstrap address is fixed, not every connection.</para>
/// </remarks>
public sealed class EmbeddedKafkaBroker : IDisposable
{
    private readonly KafkaHandle _handle;
    private readonly nint _cluster;
    private readonly LoopbackForwarder? _forwarder;

    private EmbeddedKafkaBroker(EmbeddedBrokerOptions options, KafkaHandle handle, nint cluster, string brokerAddresses, LoopbackForwarder? forwarder)
    {
        Options = options;
        _handle = handle;
        _cluster = cluster;
        BrokerAddresses = brokerAddresses;
        _forwarder = forwarder;
        BootstrapServers = forwarder is null ? brokerAddresses : $"127.0.0.1:{forwarder.Port.ToString(CultureInfo.InvariantCulture)}";
    }

    public EmbeddedBrokerOptions Options { get; }

    /// <summary>What clients put in <c>bootstrap.servers</c>: <c>127.0.0.1:PORT[,…]</c>.</summary>
    public string BootstrapServers { get; }

    /// <summary>The brokers' own listeners (<c>127.0.0.1:PORT,…</c>), as advertised in metadata.</summary>
    public string BrokerAddresses { get; }

    /// <summary>Starts the brokers and creates every topic in <see cref="EmbeddedBrokerOptions.Topics"/>.</summary>
    /// <exception cref="ArgumentException">The options are out of range.</exception>
    /// <exception cref="EmbeddedBrokerException">librdkafka refused, or the bootstrap port is taken.</exception>
    public static EmbeddedKafkaBroker Start(EmbeddedBrokerOptions? options = null)
    {
        options ??= new EmbeddedBrokerOptions();
        Validate(options);
        LibRdKafkaMock.EnsureResolver();

        var handle = CreateMockHandle(options.Brokers);
        LoopbackForwarder? forwarder = null;
        try
        {
            var cluster = LibRdKafkaMock.rd_kafka_handle_mock_cluster(handle.DangerousGetHandle());
            if (cluster == 0) throw new EmbeddedBrokerException("librdkafka did not create a mock cluster (test.mock.num.brokers ignored).");

            // Without this the first consumer-group join waits 3 s, as on a real broker.
            LibRdKafkaMock.rd_kafka_mock_group_initial_rebalance_delay_ms(cluster, 0);

            var addresses = Marshal.PtrToStringUTF8(LibRdKafkaMock.rd_kafka_mock_cluster_bootstraps(cluster))
                ?? throw new EmbeddedBrokerException("librdkafka returned no bootstrap address for the mock cluster.");

            foreach (var topic in options.Topics.Distinct(StringComparer.Ordinal))
                CreateTopic(cluster, topic, options.Partitions, 1);

            if (options.Port is { } port) forwarder = StartForwarder(port, addresses);

            return new EmbeddedKafkaBroker(options, handle, cluster, addresses, forwarder);
        }
        catch
        {
            forwarder?.Dispose();
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Creates a topic (the mock broker has no admin API).</summary>
    /// <exception cref="EmbeddedBrokerException">The topic exists already, or librdkafka refused.</exception>
    /// <exception cref="ObjectDisposedException">The broker was disposed.</exception>
    public void CreateTopic(string name, int partitions, int replicationFactor = 1)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(replicationFactor, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(replicationFactor, Options.Brokers);

        // The reference keeps librdkafka alive if Dispose runs concurrently; after Dispose it throws.
        var added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            CreateTopic(_cluster, name, partitions, replicationFactor);
        }
        finally
        {
            if (added) _handle.DangerousRelease();
        }
    }

    /// <summary>
    /// Fault injection: the next <paramref name="errors"/>.Length requests of protocol type
    /// <paramref name="apiKey"/> (e.g. 0 = Produce, 8 = OffsetCommit, 26 = EndTxn) fail with these codes, in order.
    /// </summary>
    public unsafe void InjectRequestErrors(short apiKey, params Confluent.Kafka.ErrorCode[] errors)
    {
        var added = false;
        try
        {
            _handle.DangerousAddRef(ref added);
            var codes = errors.Select(e => (int)e).ToArray();
            fixed (int* p = codes) LibRdKafkaMock.rd_kafka_mock_push_request_errors_array(_cluster, apiKey, (nuint)codes.Length, p);
        }
        finally
        {
            if (added) _handle.DangerousRelease();
        }
    }

    /// <summary>Stops the bootstrap relay and the brokers (their listeners close); safe to call twice or concurrently.</summary>
    public void Dispose()
    {
        _forwarder?.Dispose();
        _handle.Dispose();
    }

    private static void Validate(EmbeddedBrokerOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Brokers, 1, "options.Brokers");
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Brokers, 64, "options.Brokers");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Partitions, 1, "options.Partitions");
        if (options.Port is { } port && port is < 1 or > IPEndPoint.MaxPort)
            throw new ArgumentOutOfRangeException("options.Port", port, "Port must be 1–65535.");
        ArgumentNullException.ThrowIfNull(options.Topics, "options.Topics");
        if (options.Topics.Any(string.IsNullOrWhiteSpace))
            throw new ArgumentException("Topic names must not be empty.", "options.Topics");
    }

    private static unsafe KafkaHandle CreateMockHandle(int brokers)
    {
        var errstr = stackalloc byte[LibRdKafkaMock.ErrorStringSize];
        var conf = LibRdKafkaMock.rd_kafka_conf_new();
        try
        {
            Set("test.mock.num.brokers", brokers.ToString(CultureInfo.InvariantCulture));
            Set("client.id", "moderation-embedded-broker");
            // The handle only hosts the cluster: its notices ("Mock cluster enabled…") and its own idle
            // connections closing are not news; warnings and errors still reach stderr.
            Set("log_level", "4");
            Set("log.connection.close", "false");
        }
        catch
        {
            LibRdKafkaMock.rd_kafka_conf_destroy(conf);
            throw;
        }

        var rk = LibRdKafkaMock.rd_kafka_new(LibRdKafkaMock.ProducerType, conf, errstr, LibRdKafkaMock.ErrorStringSize);
        if (rk == 0)
        {
            LibRdKafkaMock.rd_kafka_conf_destroy(conf); // ownership passes to rd_kafka_new only on success
            throw new EmbeddedBrokerException($"librdkafka could not start the mock cluster: {Text(errstr)}");
        }
        return new KafkaHandle(rk);

        void Set(string name, string value)
        {
            if (LibRdKafkaMock.rd_kafka_conf_set(conf, name, value, errstr, LibRdKafkaMock.ErrorStringSize) != LibRdKafkaMock.ConfOk)
                throw new EmbeddedBrokerException($"librdkafka rejected {name}={value}: {Text(errstr)}");
        }
    }

    private static unsafe string Text(byte* errstr) => Encoding.UTF8.GetString(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(errstr));

    private static void CreateTopic(nint cluster, string name, int partitions, int replicationFactor)
    {
        var err = LibRdKafkaMock.rd_kafka_mock_topic_create(cluster, name, partitions, replicationFactor);
        if (err != 0)
            throw new EmbeddedBrokerException($"Could not create topic '{name}' ({partitions} partitions): {LibRdKafkaMock.ErrorText(err)}");
    }

    private static LoopbackForwarder StartForwarder(int port, string addresses)
    {
        var first = addresses.Split(',')[0];
        if (!IPEndPoint.TryParse(first, out var target))
            throw new EmbeddedBrokerException($"Unexpected mock broker address '{first}'.");
        try
        {
            return new LoopbackForwarder(port, target);
        }
        catch (SocketException e)
        {
            throw new EmbeddedBrokerException($"Cannot listen on 127.0.0.1:{port}: {e.Message}", e);
        }
    }

    /// <summary>Owns the <c>rd_kafka_t</c> that hosts the cluster; destroying it destroys the cluster.</summary>
    private sealed class KafkaHandle(nint rk) : SafeHandle(rk, ownsHandle: true)
    {
        public override bool IsInvalid => handle == 0;

        protected override bool ReleaseHandle()
        {
            LibRdKafkaMock.rd_kafka_destroy(handle);
            return true;
        }
    }
}
