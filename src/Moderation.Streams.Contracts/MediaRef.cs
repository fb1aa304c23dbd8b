namespace Moderation.Streams.Contracts;

/// <summary>Exactly one of <see cref="Url"/> or <see cref="Data"/> is set.</summary>
public sealed record MediaRef
{
    public string? Url { get; init; }

    /// <summary>Inline media, already base64-decoded.</summary>
    public byte[]? Data { get; init; }
}
