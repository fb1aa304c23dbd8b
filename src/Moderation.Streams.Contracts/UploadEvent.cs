namespace Moderation.Streams.Contracts;

/// <summary>An upload to screen, as published on the <c>uploads</c> topic (see DESIGN.md).</summary>
public sealed record UploadEvent
{
    public required string ContentId { get; init; }
    public string? UploaderId { get; init; }
    public required string MediaType { get; init; }
    public required MediaRef Media { get; init; }
    public string? Caption { get; init; }
    public DateTimeOffset? CreatedAt { get; init; }

    /// <summary>Where the upload will appear (e.g. <c>story</c>, <c>profile-photo</c>): selects the policy's surface
    /// override. Optional and additive: absent, or not a valid id, it is null and the base thresholds apply.</summary>
    public string? Surface { get; init; }
}

/// <summary>Exactly one of <see cref="Url"/> or <see cref="Data"/> is set.</summary>
public sealed record MediaRef
{
    public string? Url { get; init; }

    /// <summary>Inline media, already base64-decoded.</summary>
    public byte[]? Data { get; init; }
}

public static class MediaTypes
{
    public const string Image = "image";
    public const string Video = "video";
}
