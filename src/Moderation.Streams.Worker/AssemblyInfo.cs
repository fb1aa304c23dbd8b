namespace Moderation.Streams.Worker;
