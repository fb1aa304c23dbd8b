namespace Moderation.Streams.Redis;
