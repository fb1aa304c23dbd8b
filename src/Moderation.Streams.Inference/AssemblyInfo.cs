namespace Moderation.Streams.Inference;
