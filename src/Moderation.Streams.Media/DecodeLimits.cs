namespace Moderation.Streams.Media;

/// <summary>Limits checked from the image header, before any pixel memory is allocated.</summary>
public sealed record DecodeLimits
{
    /// <summary>Largest encoded size accepted (bytes).</summary>
    public long MaxBytes { get; init; } = 32L * 1024 * 1024;

    /// <summary>Largest decoded pixel count (width × height); decompression bombs stop here.</summary>
    public long MaxPixels { get; init; } = 40_000_000;

    /// <summary>Longest side accepted, in pixels.</summary>
    public int MaxSide { get; init; } = 16_384;

    public static DecodeLimits Default { get; } = new();
}
