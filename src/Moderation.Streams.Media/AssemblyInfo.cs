namespace Moderation.Streams.Media;
