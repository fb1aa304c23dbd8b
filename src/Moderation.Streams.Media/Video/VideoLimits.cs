using Moderation.Streams.Hashing.Banks;

namespace Moderation.Streams.Media.Video;

/// <summary>
/// How videos are probed, sampled and bounded (configuration section <c>Media:Video</c>). ffmpeg is an attack
/// surface: every limit here is checked by ffprobe from the container before a frame is decoded, and the decode
/// itself runs under a wall-clock timeout and a CPU-time limit, killed when either runs out.
/// </summary>
public sealed record VideoLimits
{
    /// <summary>Screen <c>media_type: video</c> uploads; false refuses them as <c>unsupported-media</c>.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The ffmpeg executable (a name looked up on PATH, or a full path).</summary>
    public string FfmpegPath { get; init; } = "ffmpeg";

    /// <summary>The ffprobe executable.</summary>
    public string FfprobePath { get; init; } = "ffprobe";

    /// <summary>Longest duration accepted, as the container declares it.</summary>
    public TimeSpan MaxDuration { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Longest side of the video stream accepted, in pixels (4K is 3840).</summary>
    public int MaxSide { get; init; } = 4096;

    /// <summary>Largest width × height of the video stream accepted.</summary>
    public long MaxPixels { get; init; } = 4096L * 2304;

    /// <summary>Most streams (video, audio, subtitles, data) a container may declare.</summary>
    public int MaxStreams { get; init; } = 8;

    /// <summary>Most frames the video tracks may declare together (when the container says), e.g. 10 minutes at 60 fps:
    /// every track is decoded in full.</summary>
    public long MaxDeclaredFrames { get; init; } = 36_000;

    /// <summary>Uniform samples are this far apart while <see cref="MaxFrames"/> of them cover the whole duration;
    /// a longer video is sampled evenly at <c>duration / MaxFrames</c> instead.</summary>
    public TimeSpan SampleInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>ffmpeg's scene score (0..1) above which a frame is sampled as a scene change; 0 turns scene sampling off.</summary>
    public double SceneThreshold { get; init; } = 0.4;

    /// <summary>Most uniform samples per video (spread over its whole duration, shared by its video tracks). Each
    /// sampled frame is hashed and classified.</summary>
    public int MaxFrames { get; init; } = 120;

    /// <summary>Most scene-change frames per video, a budget of their own so that a strobe (a scene change every
    /// frame) cannot use up the uniform samples; 0 samples no scene changes.</summary>
    public int MaxSceneFrames { get; init; } = 30;

    /// <summary>The widest spacing of uniform samples that still counts as screening the whole video: a video so long
    /// that <see cref="MaxFrames"/> samples must be further apart is screened evenly but only in part (never allowed,
    /// see <c>PartialScreening</c>). The default covers <see cref="MaxDuration"/> (10 min = 120 × 5 s).</summary>
    public TimeSpan MaxSampleGap { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Most frames one video can yield: the uniform and the scene-change budgets together.</summary>
    public int MaxFramesTotal => MaxFrames + MaxSceneFrames;

    /// <summary>Sampled frames are scaled so that their longer side is at most this (never up). 512 is where
    /// PDQ's reference stops downsampling with its 512×512 stretch, so frames are hashed as they come.</summary>
    public int FrameMaxSide { get; init; } = 512;

    /// <summary>Wall-clock time one ffprobe run may take.</summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Wall-clock time one ffmpeg sampling run may take.</summary>
    public TimeSpan DecodeTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>CPU seconds (all threads) one ffprobe or ffmpeg process may use (<c>RLIMIT_CPU</c>, set on the process); 0 = no limit.</summary>
    public int CpuSeconds { get; init; } = 120;

    /// <summary>Virtual memory one ffprobe or ffmpeg process may map, in MiB (<c>RLIMIT_AS</c>); 0 = no limit.</summary>
    public int MemoryMiB { get; init; } = 4096;

    /// <summary>ffmpeg threads per decode (0 = ffmpeg's choice).</summary>
    public int DecoderThreads { get; init; }

    /// <summary>ffmpeg processes run at once per worker; more videos wait for a slot.</summary>
    public int MaxConcurrentDecodes { get; init; } = Math.Max(1, Environment.ProcessorCount);

    /// <summary>Video codecs decoded (ffprobe's <c>codec_name</c>); anything else is <c>unsupported-media</c>.</summary>
    public IReadOnlyList<string> VideoCodecs { get; init; } = ["h264", "hevc", "vp8", "vp9", "av1"];

    /// <summary>How a video is matched against the hash banks and how frame scores become one decision.</summary>
    public VideoMatchOptions Match { get; init; } = new();

    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(FfmpegPath, nameof(FfmpegPath));
        ArgumentException.ThrowIfNullOrWhiteSpace(FfprobePath, nameof(FfprobePath));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(MaxDuration, TimeSpan.Zero, nameof(MaxDuration));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSide, 16, nameof(MaxSide));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPixels, 256, nameof(MaxPixels));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxStreams, 1, nameof(MaxStreams));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDeclaredFrames, 1, nameof(MaxDeclaredFrames));
        ArgumentOutOfRangeException.ThrowIfLessThan(SampleInterval, TimeSpan.FromMilliseconds(40), nameof(SampleInterval));
        if (SceneThreshold is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(SceneThreshold), SceneThreshold, "Must be in [0, 1).");
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxFrames, 1, nameof(MaxFrames));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxFrames, 1000, nameof(MaxFrames));
        ArgumentOutOfRangeException.ThrowIfNegative(MaxSceneFrames, nameof(MaxSceneFrames));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxSceneFrames, 1000, nameof(MaxSceneFrames));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSampleGap, TimeSpan.FromMilliseconds(40), nameof(MaxSampleGap));
        ArgumentOutOfRangeException.ThrowIfLessThan(FrameMaxSide, 32, nameof(FrameMaxSide));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(FrameMaxSide, 2048, nameof(FrameMaxSide));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ProbeTimeout, TimeSpan.Zero, nameof(ProbeTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(DecodeTimeout, TimeSpan.Zero, nameof(DecodeTimeout));
        ArgumentOutOfRangeException.ThrowIfNegative(CpuSeconds, nameof(CpuSeconds));
        ArgumentOutOfRangeException.ThrowIfNegative(MemoryMiB, nameof(MemoryMiB));
        ArgumentOutOfRangeException.ThrowIfNegative(DecoderThreads, nameof(DecoderThreads));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrentDecodes, 1, nameof(MaxConcurrentDecodes));
        if (VideoCodecs is null || VideoCodecs.Count == 0) throw new ArgumentException("at least one video codec", nameof(VideoCodecs));
        ArgumentNullException.ThrowIfNull(Match);
        Match.Validate();
    }
}
