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

    /// <summary>Animated GIF, WebP and PNG: most frames decoded (composed and PDQ-hashed, each one matched against the
    /// banks). An animation with more frames is screened on these only: partially screened, never allowed.</summary>
    public int MaxFramesDecoded { get; init; } = 500;

    /// <summary>Animations: most pixels decoded over all frames (frames × canvas size); frames past it are not
    /// decoded (partially screened). With <see cref="TimeBudget"/>, what keeps a 10,000-frame GIF from being a CPU bomb.</summary>
    public long MaxAnimationPixels { get; init; } = 400_000_000;

    /// <summary>Animations: most frames classified by the model, spread evenly over the decoded frames (each is
    /// scaled to at most 512 px on its longer side, like a video's sampled frames).</summary>
    public int MaxAnimationFrames { get; init; } = 60;

    /// <summary>
    /// A JPEG whose sides both stay at least this long at 1/2, 1/4 or 1/8 scale is decoded at the smallest such
    /// scale (libjpeg's DCT scaling skips most of the decoding work): a 12-megapixel photo is read as 1000x750.
    /// 0 decodes every image in full. Limits above are still checked against the full size. The worker uses 512
    /// (<see cref="ScaledJpegMinSide"/>): PDQ resizes to 512x512 and the classifiers read 224 or 299, so both see
    /// at least the pixels they sample, slightly smoothed (PDQ bits that move: <c>moderation bench pdq</c>).
    /// </summary>
    public int JpegScaleMinSide { get; init; }

    /// <summary>Checks the animation limits (the worker calls it at start, so a bad setting stops it there rather than
    /// failing every animated upload).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxFramesDecoded, 1, nameof(MaxFramesDecoded));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxAnimationPixels, 1, nameof(MaxAnimationPixels));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxAnimationFrames, 1, nameof(MaxAnimationFrames));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxAnimationFrames, 1000, nameof(MaxAnimationFrames));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(TimeBudget, TimeSpan.Zero, nameof(TimeBudget));
    }

    /// <summary>The worker's <see cref="JpegScaleMinSide"/>: PDQ's 512-pixel grid.</summary>
    public const int ScaledJpegMinSide = 512;

    /// <summary>Full decodes, the defaults above: the CLI's <c>hash</c>, <c>bank import</c> and <c>classify</c>, and the reference tests.</summary>
    public static DecodeLimits Default { get; } = new();
}
