namespace Moderation.Streams.Embedded;

/// <summary>The embedded broker could not start or refused an operation; the message is librdkafka's.</summary>
public sealed class EmbeddedBrokerException(string message, Exception? inner = null) : Exception(message, inner);
