using Confluent.Kafka;

namespace Moderation.Streams.Kafka;

/// <summary>A record the pipeline wants published as the outcome of one upload.</summary>
public sealed record OutboundMessage(string Topic, byte[]? Key, byte[] Value, Headers Headers)
{
    /// <summary>A record beside the upload's outcome that live screening must never wait or stop for (the shadow model's
    /// would-be decision): the upload finishes without its acknowledgement, and a failure to deliver it (a missing topic,
    /// an ACL) is counted and dropped, never fatal.</summary>
    public bool Optional { get; init; }
}
