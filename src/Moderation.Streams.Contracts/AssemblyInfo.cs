namespace Moderation.Streams.Contracts;
