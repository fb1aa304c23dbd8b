using Confluent.Kafka;

namespace Moderation.Streams.Kafka;

/// <summary>A record the pipeline wants published as the outcome of one upload.</summary>
public sealed record OutboundMessage(string Topic, byte[]? Key, byte[] Value, Headers Headers);
