namespace Moderation.Streams.Contracts;

/// <summary>An upload to screen, as published on the <c>uploads</c> topic (see DESIGN.md).</summary>
public sealed record UploadEvent
{
    public required string ContentId { get; init; }
    public string? UploaderId { get; init; }
    public required string MediaType { get; init; }
    /// <summary>The media to screen; null for a <c>text</c> item, which has none.</summary>
    public MediaRef? Media { get; init; }

    /// <summary>Optional text shown with the media, screened by the text signals (at most <see cref="EventLimits.MaxCaptionChars"/>).</summary>
    public string? Caption { get; init; }

    /// <summary>A <c>text</c> item's text (a comment, a bio, a post): required there, absent otherwise.</summary>
    public string? Text { get; init; }
    public DateTimeOffset? CreatedAt { get; init; }

    /// <summary>Where the upload will appear (e.g. <c>story</c>, <c>profile-photo</c>): selects the policy's surface
    /// override. Optional and additive: absent, or not a valid id, it is null and the base thresholds apply.</summary>
    public string? Surface { get; init; }
}
