namespace Moderation.Streams.Review;

/// <summary>The parts of an upload a reviewer sees beside its media (which is read again on each view, never stored here).</summary>
public sealed record UploadDetails(string MediaType, string? UploaderId, string? Caption, string? Text, bool HasMedia, string? Surface = null);
