using System.ComponentModel.DataAnnotations;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Kafka;

/// <summary>Kafka settings of a worker (configuration section <c>Kafka</c>).</summary>
public sealed class KafkaOptions : IValidatableObject
{
    [Required(AllowEmptyStrings = false)]
    public string BootstrapServers { get; set; } = "127.0.0.1:9092";

    [Required(AllowEmptyStrings = false)]
    public string GroupId { get; set; } = "moderation-workers";

    public string UploadsTopic { get; set; } = Topics.Uploads;
    public string TakedownTopic { get; set; } = Topics.Takedown;
    public string ReviewTopic { get; set; } = Topics.Review;
    public string AllowTopic { get; set; } = Topics.Allow;
    public string DlqTopic { get; set; } = Topics.Dlq;

    /// <summary>Where the shadow model's would-be decisions go (only when the policy has a shadow).</summary>
    public string ShadowTopic { get; set; } = Topics.Shadow;

    /// <summary>Uploads being screened at once; partitions are paused above it (backpressure).</summary>
    [Range(1, 100_000)]
    public int MaxInFlight { get; set; } = 256;

    /// <summary>Bytes of upload events being screened at once; partitions are paused above it.</summary>
    [Range(1024, long.MaxValue)]
    public long MaxInFlightBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>How long the group waits for a silent member before its partitions move. With static membership
    /// (<see cref="GroupInstanceId"/>) a worker restarted within it gets its partitions back without a rebalance; a
    /// worker that does not come back holds them this long. 15 s covers a container restart after a crash (seconds).</summary>
    [Range(1000, 3_600_000)]
    public int SessionTimeoutMs { get; set; } = 15_000;

    /// <summary>Heartbeats to the group coordinator; members learn of a rebalance within one. At most a third of
    /// <see cref="SessionTimeoutMs"/>.</summary>
    [Range(100, 1_200_000)]
    public int HeartbeatIntervalMs { get; set; } = 1000;

    [Range(1000, int.MaxValue)]
    public int MaxPollIntervalMs { get; set; } = 300_000;

    /// <summary>librdkafka's <c>fetch.wait.max.ms</c>: how long the broker may hold a fetch that has no data yet. The
    /// consumer has one fetch in flight per broker, so partitions resumed after backpressure wait for that fetch to come
    /// back: at librdkafka's 500 ms every pause cost up to half a second (bench e2e: cache hits 3× slower). Lower means
    /// more empty fetches while idle (1000 / this per broker per second).</summary>
    [Range(1, 10_000)]
    public int FetchWaitMaxMs { get; set; } = 50;

    /// <summary>At-least-once: finished offsets are committed at most this long after they became committable
    /// (measured on the consumer's clock), besides on revoke and at shutdown. A crash re-screens at most this much
    /// finished work (plus what was in flight); each commit is one broker round trip on the poll thread.</summary>
    public TimeSpan CommitInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>How long revoked partitions and SIGTERM wait for in-flight uploads before giving up.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary><c>at-least-once</c> (default) or <c>exactly-once</c> (transactional produce of decisions together
    /// with the consumed offsets; decision consumers must read <c>read_committed</c>).</summary>
    [RegularExpression("^(at-least-once|exactly-once)$", ErrorMessage = "Kafka:Mode must be at-least-once or exactly-once")]
    public string Mode { get; set; } = DeliveryModes.AtLeastOnce;

    /// <summary>Exactly-once: the producer's <c>transactional.id</c>. Keep it stable per worker instance (e.g. the
    /// pod name) so a restarted instance fences its zombie. Default: group id + host name.</summary>
    public string? TransactionalId { get; set; }

    /// <summary>Exactly-once: a transaction is committed at least this often (and at <see cref="TransactionMaxUploads"/>).</summary>
    public TimeSpan TransactionInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    [Range(1, 1_000_000)]
    public int TransactionMaxUploads { get; set; } = 1000;

    public bool ExactlyOnce => Mode == DeliveryModes.ExactlyOnce;

    /// <summary>librdkafka's default <c>message.max.bytes</c>.</summary>
    public const int DefaultMessageMaxBytes = 1_000_000;

    /// <summary>Default of <see cref="DlqMaxRecordBytes"/>: the producer's default <c>message.max.bytes</c>.</summary>
    public const int DefaultDlqMaxRecordBytes = DefaultMessageMaxBytes;

    /// <summary>The most bytes a DLQ record may take (key + value + headers + <see cref="DeadLetter.RecordOverheadBytes"/>);
    /// the producer's <c>message.max.bytes</c> (<see cref="ProducerProperties"/>, else <see cref="Properties"/>) lowers it further (<see cref="DlqRecordBudget"/>).</summary>
    [Range(16 * 1024, int.MaxValue)]
    public int DlqMaxRecordBytes { get; set; } = DefaultDlqMaxRecordBytes;

    /// <summary>What a DLQ record is cut to: <see cref="DlqMaxRecordBytes"/>, at most the producer's <c>message.max.bytes</c>.</summary>
    public int DlqRecordBudget =>
        (ProducerProperties.TryGetValue("message.max.bytes", out var configured) || Properties.TryGetValue("message.max.bytes", out configured))
        && int.TryParse(configured, out int max) && max > 0
            ? Math.Min(DlqMaxRecordBytes, max)
            : Math.Min(DlqMaxRecordBytes, DefaultMessageMaxBytes);

    /// <summary>Static membership (<c>group.instance.id</c>): a worker that restarts with the same id within
    /// <see cref="SessionTimeoutMs"/> gets its partitions back without rebalancing the others. Unique per worker instance
    /// (two members with one id fence each other). The <c>worker</c> verb defaults it to the host name (the pod name on
    /// Kubernetes); unset here means dynamic membership.</summary>
    public string? GroupInstanceId { get; set; }

    /// <summary>Extra librdkafka settings for every client (e.g. <c>client.rack</c>, <c>socket.*</c>, <c>reconnect.*</c>);
    /// they may change the clients' defaults but not the settings the guarantees rest on
    /// (<see cref="KafkaClientConfig.GuardedConsumerKeys"/>, <see cref="KafkaClientConfig.GuardedProducerKeys"/>).
    /// Authentication and TLS belong in <see cref="Security"/>.</summary>
    public Dictionary<string, string> Properties { get; set; } = [];

    /// <summary>librdkafka settings for the consumers only (<c>fetch.*</c>, <c>queued.*</c>), applied over
    /// <see cref="Properties"/>: a producer setting in <see cref="Properties"/> makes librdkafka warn on every consumer.</summary>
    public Dictionary<string, string> ConsumerProperties { get; set; } = [];

    /// <summary>librdkafka settings for the outcome producers only (<c>linger.ms</c>, <c>message.timeout.ms</c>,
    /// <c>compression.type</c>, <c>batch.size</c>), applied over <see cref="Properties"/>.</summary>
    public Dictionary<string, string> ProducerProperties { get; set; } = [];

    /// <summary>Authentication and TLS (<c>Kafka:Security</c>), applied over <see cref="Properties"/>; see <see cref="KafkaSecurity"/>.</summary>
    public KafkaSecurityOptions Security { get; set; } = new();

    public string TopicFor(string action) => action switch
    {
        Actions.Takedown => TakedownTopic,
        Actions.Review => ReviewTopic,
        Actions.Allow => AllowTopic,
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "unknown action"),
    };

    /// <summary>Free-form properties that name a guarded setting (see <see cref="KafkaClientConfig.Problems"/>).</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) =>
        KafkaClientConfig.Problems(this).Select(problem => new ValidationResult(problem, [nameof(Properties)]));
}
