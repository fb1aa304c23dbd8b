namespace Moderation.Streams.Kafka;

/// <summary>The values of <see cref="KafkaOptions.Mode"/>: see DESIGN.md, Delivery guarantees.</summary>
public static class DeliveryModes
{
    public const string AtLeastOnce = "at-least-once";
    public const string ExactlyOnce = "exactly-once";
}
