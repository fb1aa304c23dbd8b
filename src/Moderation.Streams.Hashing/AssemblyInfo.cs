namespace Moderation.Streams.Hashing;
