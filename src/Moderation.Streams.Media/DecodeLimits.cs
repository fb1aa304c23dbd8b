namespace Moderation.Streams.Media;

/// <summary>
/// Limits checked from the image header and the file's structure, before any pixel memory is allocated
/// (configuration section <c>Media:Decode</c>).
/// </summary>
public sealed record DecodeLimits
{
    /// <summary>Largest encoded size accepted (bytes).</summary>
    public long MaxBytes { get; init; } = 32L * 1024 * 1024;

    /// <summary>Largest decoded pixel count (width × height); decompression bombs stop here.</summary>
    public long MaxPixels { get; init; } = 40_000_000;

    /// <summary>Longest side accepted, in pixels.</summary>
    public int MaxSide { get; init; } = 16_384;

    /// <summary>Most scans a JPEG may have. Ordinary progressive JPEGs have about 10; each scan is a pass over
    /// the whole image, so thousands of tiny scans are a CPU bomb in a small file.</summary>
    public int MaxJpegScans { get; init; } = 100;

    /// <summary>Time one decode may take before the upload is refused as <c>undecodable-media</c>. A native
    /// decode cannot be interrupted: it finishes in the background, bounded by the limits above.</summary>
    public TimeSpan TimeBudget { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Decodes running at once through <see cref="ImageDecoder.DecodeAsync"/> (0 = one per processor): bounds
    /// the decoders' memory (about 7 bytes per pixel at peak) and CPU whatever the number of uploads in flight. Waiting
    /// for a turn does not count against <see cref="TimeBudget"/>; a decode abandoned at its budget keeps its turn until it ends.</summary>
    public int MaxConcurrentDecodes { get; init; }

    public static DecodeLimits Default { get; } = new();
}
