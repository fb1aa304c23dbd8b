namespace Moderation.Streams.Kafka;
