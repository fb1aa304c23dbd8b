namespace Moderation.Streams.Hashing.Banks;

/// <summary>
/// Video bank matching (vPDQ-style) and frame-score aggregation (configuration section <c>Media:Video:Match</c>).
/// Bank entries whose id has a media fragment, <c>clip.mp4#t=3.000</c> (the <c>hash</c> verb's per-frame lines),
/// are frames of a banked video and are grouped by the id before <c>#t=</c>; other entries are single images.
/// </summary>
/// <remarks>Bound as Media's <c>VideoLimits.Match</c>; it lives beside <see cref="VideoMatcher"/>, which takes it.
/// <see cref="MinFramesOverThreshold"/> is not the matcher's: the video screener hands it to the decision's model signal.</remarks>
public sealed record VideoMatchOptions
{
    /// <summary>A banked video matches when at least this share of the upload's frames match one of its frames…</summary>
    public double MinQueryShare { get; init; } = 0.7;

    /// <summary>…and at least this share of the banked video's frames are matched by the upload's frames.</summary>
    public double MinBankShare { get; init; } = 0.7;

    /// <summary>A banked image matches a video when at least this many of its sampled frames match the image.</summary>
    public int MinImageFrames { get; init; } = 1;

    /// <summary>The model takes an action only when at least this many frames score over its threshold
    /// (1: the highest frame score decides).</summary>
    public int MinFramesOverThreshold { get; init; } = 1;

    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public void Validate()
    {
        if (MinQueryShare is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(MinQueryShare), MinQueryShare, "Must be in (0, 1].");
        if (MinBankShare is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(MinBankShare), MinBankShare, "Must be in (0, 1].");
        ArgumentOutOfRangeException.ThrowIfLessThan(MinImageFrames, 1, nameof(MinImageFrames));
        ArgumentOutOfRangeException.ThrowIfLessThan(MinFramesOverThreshold, 1, nameof(MinFramesOverThreshold));
    }
}
