namespace Moderation.Streams.Contracts;

/// <summary>The DLQ error codes fixed by the contract (header <c>moderation.error.code</c>).</summary>
public static class ErrorCodes
{
    public const string InvalidEvent = "invalid-event";
    public const string UnsupportedMedia = "unsupported-media";
    public const string ForbiddenUrl = "forbidden-url";
    public const string MediaUnavailable = "media-unavailable";
    public const string MediaTooLarge = "media-too-large";
    public const string UndecodableMedia = "undecodable-media";
    public const string Internal = "internal";

    public static IReadOnlyList<string> All { get; } =
        [InvalidEvent, UnsupportedMedia, ForbiddenUrl, MediaUnavailable, MediaTooLarge, UndecodableMedia, Internal];
}
