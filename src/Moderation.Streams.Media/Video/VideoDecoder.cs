using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Media.Video;

/// <summary>
/// Samples a video's frames with ffmpeg, safely: the container is chosen from the magic bytes (MP4/MOV or WebM,
/// anything else is <c>unsupported-media</c> before ffmpeg runs), the bytes go in through standard input with
/// only the <c>pipe</c> protocol allowed and only that one demuxer and the listed decoders, ffprobe checks the
/// container's claims against <see cref="VideoLimits"/> first, and frames come back on standard output as raw
/// RGB (never written to disk), scaled to at most <see cref="VideoLimits.FrameMaxSide"/>. Every video track is
/// sampled over its whole duration: uniform samples (one per <see cref="VideoLimits.SampleInterval"/> while
/// <see cref="VideoLimits.MaxFrames"/> of them reach the end, else spread evenly) plus scene changes from a budget of
/// their own (<see cref="VideoLimits.MaxSceneFrames"/>). What the samples did not cover (too sparse, a decode error, a
/// track that ended early or would not decode) is reported in <see cref="SampledVideo.NotCovered"/>.
/// </summary>
/// <remarks>Thread-safe; at most <see cref="VideoLimits.MaxConcurrentDecodes"/> ffmpeg processes run at once.</remarks>
public sealed partial class VideoDecoder : IDisposable
{
    /// <summary>Decoders opened for a video's streams (ffprobe opens one per stream, audio too): the video codecs
    /// screened and the usual audio codecs. A stream needing any other decoder fails the probe.</summary>
    private const string DecoderWhitelist =
        "h264,hevc,vp8,vp9,libvpx,libvpx-vp9,libdav1d,libaom-av1,av1," +
        "aac,aac_fixed,mp3,mp3float,mp2,mp2float,opus,libopus,vorbis,libvorbis,flac,alac,ac3,eac3,amrnb,amrwb," +
        "pcm_s16le,pcm_s16be,pcm_s24le,pcm_s24be,pcm_s32le,pcm_f32le,pcm_u8,pcm_mulaw,pcm_alaw,mov_text,webvtt";

    private readonly VideoLimits _limits;
    private readonly SemaphoreSlim _slots;

    public VideoDecoder(VideoLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        limits.Validate();
        _limits = limits;
        _slots = new SemaphoreSlim(limits.MaxConcurrentDecodes, limits.MaxConcurrentDecodes);
    }

    public VideoLimits Limits => _limits;

    /// <summary>Sniffs, probes and samples <paramref name="video"/>. <paramref name="onFrame"/> sees each frame as
    /// it is decoded (timestamps are known only at the end, so it gets the index), while ffmpeg goes on decoding.</summary>
    /// <exception cref="ModerationException">unsupported-media, media-too-large or undecodable-media (also for
    /// timeouts and a video without a single frame); internal when ffmpeg is missing.</exception>
    public async Task<SampledVideo> SampleAsync(byte[] video, Func<int, DecodedImage, ValueTask>? onFrame, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(video);
        var container = VideoSniffer.Require(video);
        if (container == VideoContainer.Mp4) video = Mp4Faststart.Apply(video);
        await _slots.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var info = await ProbeCoreAsync(video, container, ct).ConfigureAwait(false);
            return await DecodeAsync(video, info, onFrame, ct).ConfigureAwait(false);
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>Reads the container's claims with ffprobe and checks them against the limits.</summary>
    /// <exception cref="ModerationException">As <see cref="SampleAsync"/>.</exception>
    public async Task<VideoInfo> ProbeAsync(byte[] video, CancellationToken ct)
    {
        var container = VideoSniffer.Require(video);
        if (container == VideoContainer.Mp4) video = Mp4Faststart.Apply(video);
        await _slots.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return await ProbeCoreAsync(video, container, ct).ConfigureAwait(false);
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <summary>How one track is sampled: uniform samples <paramref name="IntervalMs"/> apart over its whole duration
    /// (at most <paramref name="UniformBudget"/>), plus up to <paramref name="SceneBudget"/> scene changes between them.</summary>
    /// <param name="ExpectedUniform">Uniform samples a fully decoded track yields at least (null: duration unknown).</param>
    /// <param name="Shortfall">Why the plan itself cannot cover the track (too long for the budget at
    /// <see cref="VideoLimits.MaxSampleGap"/>, or no duration to check against), or null.</param>
    public sealed record SamplingPlan(long IntervalMs, int UniformBudget, int SceneBudget, int? ExpectedUniform, string? Shortfall)
    {
        /// <summary>Frames ffmpeg may hand over for the track; one more than it should ever need, so that a stream
        /// longer than its container declares is noticed rather than silently cut.</summary>
        public int FrameCap => UniformBudget + SceneBudget + 2;
    }

    /// <summary>The sampling plan of <paramref name="track"/>, the budgets shared by <paramref name="trackCount"/> tracks.</summary>
    public SamplingPlan Plan(VideoTrack track, int trackCount)
    {
        ArgumentNullException.ThrowIfNull(track);
        ArgumentOutOfRangeException.ThrowIfLessThan(trackCount, 1);
        int uniform = Math.Max(1, _limits.MaxFrames / trackCount);
        int scene = _limits.SceneThreshold > 0 ? _limits.MaxSceneFrames / trackCount : 0;
        long minimum = Math.Max(1, (long)Math.Ceiling(_limits.SampleInterval.TotalMilliseconds));
        var declared = track.Duration is { } d && d > TimeSpan.Zero ? d : (TimeSpan?)null;
        // Decoding stops at MaxDuration whatever the container claims, so no plan needs to reach further.
        double spanMs = Math.Min((declared ?? _limits.MaxDuration).TotalMilliseconds, _limits.MaxDuration.TotalMilliseconds);
        long interval = Math.Max(minimum, (long)Math.Ceiling(spanMs / uniform));
        int? expected = declared is null ? null : Math.Max(1, (int)Math.Floor(spanMs / interval));
        string? shortfall = null;
        if (declared is null)
            shortfall = "the container declares no duration, so the samples' coverage could not be checked";
        else if (Math.Min(interval, spanMs) > _limits.MaxSampleGap.TotalMilliseconds)
            shortfall = FormattableString.Invariant($"{spanMs / 1000:0.#} s sampled only every {interval / 1000.0:0.###} s ({uniform} frames), more than the {_limits.MaxSampleGap.TotalSeconds:0.###} s apart that count as full coverage");
        return new SamplingPlan(interval, uniform, scene, expected, shortfall);
    }

    /// <summary>The ffmpeg arguments that sample one track of a probed video to raw RGB on standard output: uniform
    /// samples (<c>fps</c>: the frame shown at each multiple of the interval) and, through a <c>split</c>, scene changes
    /// off that grid under their own budget (a counter kept in the <c>select</c> expression), merged in time order.</summary>
    public IReadOnlyList<string> SamplingArguments(VideoInfo info, VideoTrack track, SamplingPlan plan)
    {
        var (width, height) = FrameSize(track.DisplayWidth, track.DisplayHeight);
        string scale = $"scale={width}:{height}:flags=area,format=rgb24";
        string uniform = FormattableString.Invariant($"fps=fps=1000/{plan.IntervalMs}:round=up,{scale}");
        string graph;
        if (plan.SceneBudget > 0)
        {
            string i = FormattableString.Invariant($"{plan.IntervalMs / 1000.0:0.###}");
            string threshold = _limits.SceneThreshold.ToString("0.###", CultureInfo.InvariantCulture);
            // A scene change on the grid is the uniform sample itself; ld(0) counts the scene frames taken.
            string select = FormattableString.Invariant(
                $"select='if(gt(scene,{threshold})*gte(abs(t-round(t/{i})*{i}),0.001)*lt(ld(0),{plan.SceneBudget}),st(0,ld(0)+1),0)'");
            graph = FormattableString.Invariant($"[0:{track.StreamIndex}]split[a][b];[a]{uniform}[u];[b]{select},{scale}[s];[u][s]interleave,showinfo[out]");
        }
        else
        {
            graph = FormattableString.Invariant($"[0:{track.StreamIndex}]{uniform},showinfo[out]");
        }
        var args = new List<string> { "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info" };
        args.AddRange(InputArguments(info.Container));
        if (_limits.DecoderThreads > 0) args.AddRange(["-threads", _limits.DecoderThreads.ToString(CultureInfo.InvariantCulture)]);
        // Decoding stops at the duration limit whatever the container claimed.
        args.AddRange(["-t", _limits.MaxDuration.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture), "-i", "pipe:0"]);
        args.AddRange(["-filter_complex", graph, "-map", "[out]", "-an", "-sn", "-dn",
            "-fps_mode", "passthrough", "-frames:v", plan.FrameCap.ToString(CultureInfo.InvariantCulture),
            "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]);
        return args;
    }

    /// <summary>Size of the sampled frames: the displayed size scaled down (never up) so that the longer side is at
    /// most <see cref="VideoLimits.FrameMaxSide"/>, aspect kept.</summary>
    public (int Width, int Height) FrameSize(VideoInfo info) => FrameSize(info.DisplayWidth, info.DisplayHeight);

    private (int Width, int Height) FrameSize(int w, int h)
    {
        int max = _limits.FrameMaxSide;
        if (w <= max && h <= max) return (w, h);
        return w >= h
            ? (max, Math.Max(1, (int)Math.Round((double)h * max / w)))
            : (Math.Max(1, (int)Math.Round((double)w * max / h)), max);
    }

    private static IEnumerable<string> InputArguments(VideoContainer container)
    {
        var demuxer = VideoSniffer.Demuxer(container);
        return ["-protocol_whitelist", "pipe", "-format_whitelist", demuxer, "-codec_whitelist", DecoderWhitelist, "-f", demuxer];
    }

    private async Task<VideoInfo> ProbeCoreAsync(byte[] video, VideoContainer container, CancellationToken ct)
    {
        var args = new List<string> { "-hide_banner", "-v", "error" };
        args.AddRange(InputArguments(container));
        args.AddRange(["-show_entries",
            "format=duration,nb_streams:stream=index,codec_type,codec_name,width,height,nb_frames,duration:stream_disposition=attached_pic:stream_side_data=rotation:stream_tags=rotate",
            "-of", "json", "-i", "pipe:0"]);
        var json = new MemoryStream();
        var result = await FfmpegProcess.RunAsync(_limits.FfprobePath, args, video,
            async (stdout, token) => await CopyBoundedAsync(stdout, json, 1 << 20, token).ConfigureAwait(false),
            null, _limits, _limits.ProbeTimeout, ct).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            // A stream whose decoder is not listed: a codec this worker does not screen, not a broken file.
            if (result.StderrTail.Select(l => NotWhitelisted().Match(l)).FirstOrDefault(m => m.Success) is { } codec)
                throw new ModerationException(ErrorCodes.UnsupportedMedia, $"codec '{Printable(codec.Groups[1].Value)}' is not screened");
            throw new ModerationException(ErrorCodes.UndecodableMedia, $"video could not be read: {result.LastError}");
        }
        try
        {
            return Check(ParseProbe(json.ToArray(), container));
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or KeyNotFoundException)
        {
            throw new ModerationException(ErrorCodes.UndecodableMedia, "video could not be read: unreadable probe output", e);
        }
    }

    private VideoInfo Check(VideoInfo info)
    {
        if (info.Streams > _limits.MaxStreams)
            throw new ModerationException(ErrorCodes.UnsupportedMedia, $"video has {info.Streams} streams, more than {_limits.MaxStreams}");
        // Every track a player could show is screened, so every one must be a codec and a size this worker screens.
        foreach (var track in info.Tracks)
        {
            if (!_limits.VideoCodecs.Contains(track.Codec, StringComparer.Ordinal))
                throw new ModerationException(ErrorCodes.UnsupportedMedia, $"video codec '{Printable(track.Codec)}' is not screened (screened: {string.Join(", ", _limits.VideoCodecs)})");
            if (track.Width < 1 || track.Height < 1)
                throw new ModerationException(ErrorCodes.UndecodableMedia, "video stream has no dimensions");
            if (track.Width > _limits.MaxSide || track.Height > _limits.MaxSide || (long)track.Width * track.Height > _limits.MaxPixels)
                throw new ModerationException(ErrorCodes.MediaTooLarge, $"video of {track.Width}x{track.Height} exceeds the limit ({_limits.MaxSide} px a side, {_limits.MaxPixels} pixels)");
            if (track.Duration is { } td && td > _limits.MaxDuration)
                throw new ModerationException(ErrorCodes.MediaTooLarge, $"video of {td.TotalSeconds:0.#} s exceeds the limit of {_limits.MaxDuration.TotalSeconds:0.#} s");
            if (track.DeclaredFrames == 0 && info.Tracks.Count == 1)
                throw new ModerationException(ErrorCodes.UndecodableMedia, "video stream has no frames");
        }
        // Every track is decoded in full: the frames of all of them together are the work.
        long declared = info.Tracks.Sum(t => t.DeclaredFrames ?? 0);
        if (declared > _limits.MaxDeclaredFrames)
            throw new ModerationException(ErrorCodes.MediaTooLarge, $"video declares {declared} frames, more than {_limits.MaxDeclaredFrames}");
        if (info.Duration is { } d && d > _limits.MaxDuration)
            throw new ModerationException(ErrorCodes.MediaTooLarge, $"video of {d.TotalSeconds:0.#} s exceeds the limit of {_limits.MaxDuration.TotalSeconds:0.#} s");
        return info;
    }

    internal static VideoInfo ParseProbe(byte[] json, VideoContainer container)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        var format = root.TryGetProperty("format", out var f) ? f : default;
        var streams = root.TryGetProperty("streams", out var s) && s.ValueKind == JsonValueKind.Array ? s.EnumerateArray().ToList() : [];
        int count = format.ValueKind == JsonValueKind.Object && format.TryGetProperty("nb_streams", out var ns) && ns.TryGetInt32(out var n) ? n : streams.Count;
        // Attached pictures (cover art) are stills stored as a one-frame stream, not a track a player plays.
        var videos = streams.Where(x => Text(x, "codec_type") == "video"
            && !(x.TryGetProperty("disposition", out var disp) && disp.TryGetProperty("attached_pic", out var pic) && pic.ValueKind == JsonValueKind.Number && pic.GetInt32() == 1)).ToList();
        var video = videos.FirstOrDefault();
        // Nothing readable at all is a broken file; streams without a video one (audio only) are not a video.
        if (streams.Count == 0)
            throw new ModerationException(ErrorCodes.UndecodableMedia, "container has no readable stream");
        if (video.ValueKind != JsonValueKind.Object)
            throw new ModerationException(ErrorCodes.UnsupportedMedia, "container has no video stream");
        int width = Int(video, "width") ?? 0, height = Int(video, "height") ?? 0;
        var duration = Seconds(Text(format, "duration")) ?? Seconds(Text(video, "duration"));
        long? frames = DeclaredFrames(video);
        var formatDuration = Seconds(Text(format, "duration"));
        var tracks = videos.Select((v, i) => new VideoTrack(Int(v, "index") ?? i, Text(v, "codec_name") ?? "unknown", Int(v, "width") ?? 0, Int(v, "height") ?? 0,
            Rotation(v), Seconds(Text(v, "duration")) ?? formatDuration, DeclaredFrames(v))).ToList();
        return new VideoInfo(container, Text(video, "codec_name") ?? "unknown", width, height, Rotation(video), duration, frames, count) { Tracks = tracks };
    }

    private static long? DeclaredFrames(JsonElement stream) =>
        long.TryParse(Text(stream, "nb_frames"), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;

    private static int Rotation(JsonElement stream)
    {
        double degrees = 0;
        if (stream.TryGetProperty("side_data_list", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in list.EnumerateArray())
                if (item.TryGetProperty("rotation", out var r) && r.ValueKind == JsonValueKind.Number) degrees = r.GetDouble();
        }
        else if (stream.TryGetProperty("tags", out var tags) && double.TryParse(Text(tags, "rotate"), NumberStyles.Float, CultureInfo.InvariantCulture, out var tag))
        {
            degrees = tag;
        }
        int quarter = (int)Math.Round(degrees / 90.0);
        return (quarter % 4 + 4) % 4 * 90;
    }

    /// <summary>Samples every track in turn (one ffmpeg run each, its own frame size), the frames of all tracks into
    /// one set, and says what the samples did not cover.</summary>
    private async Task<SampledVideo> DecodeAsync(byte[] video, VideoInfo info, Func<int, DecodedImage, ValueTask>? onFrame, CancellationToken ct)
    {
        var tracks = info.Tracks.Count > 0 ? info.Tracks : [new VideoTrack(0, info.Codec, info.Width, info.Height, info.Rotation, info.Duration, info.DeclaredFrames)];
        var frames = new List<VideoFrame>();
        var gaps = new List<string>();
        string? firstError = null;
        bool cleanEmpty = false;
        foreach (var track in tracks)
        {
            var plan = Plan(track, tracks.Count);
            string name = tracks.Count == 1 ? "" : $"video stream #{track.StreamIndex}: ";
            var (trackFrames, exitCode, lastError, decodeError) = await DecodeTrackAsync(video, info, track, plan, frames.Count, onFrame, ct).ConfigureAwait(false);
            frames.AddRange(trackFrames);
            if (trackFrames.Count == 0)
            {
                firstError ??= lastError;
                cleanEmpty |= exitCode == 0;
                gaps.Add($"{name}could not be decoded ({(exitCode == 0 ? "no decodable frames" : lastError)})");
                continue;
            }
            if (Coverage(plan, trackFrames, exitCode, decodeError ?? (exitCode != 0 ? lastError : null)) is { } gap) gaps.Add(name + gap);
        }
        if (frames.Count == 0)
            throw new ModerationException(ErrorCodes.UndecodableMedia, cleanEmpty && tracks.Count == 1
                ? "video has no decodable frames"
                : $"video could not be decoded: {firstError}");
        return new SampledVideo(info, frames, gaps.Count == 0 ? null : string.Join("; ", gaps));
    }

    /// <summary>What a track's samples missed: the plan's own shortfall, an error ffmpeg reported while decoding (what
    /// follows it was not seen), fewer uniform samples than the duration needs (the stream ended early), or more frames
    /// than the budget (the stream runs past what the container declared).</summary>
    private static string? Coverage(SamplingPlan plan, IReadOnlyList<VideoFrame> frames, int exitCode, string? error)
    {
        var problems = new List<string>();
        if (plan.Shortfall is not null) problems.Add(plan.Shortfall);
        double last = frames.Max(f => f.TimestampMs) / 1000.0;
        if (exitCode != 0 || error is not null)
            problems.Add(FormattableString.Invariant($"decoding failed after {last:0.#} s ({error ?? $"exit code {exitCode}"})"));
        // The fps filter puts uniform samples exactly on multiples of the interval; scene changes are kept off that grid.
        int uniform = frames.Where(f => f.TimestampMs >= 0 && Math.Abs(f.TimestampMs - Math.Round((double)f.TimestampMs / plan.IntervalMs) * plan.IntervalMs) <= 1)
            .Select(f => Math.Round((double)f.TimestampMs / plan.IntervalMs)).Distinct().Count();
        if (plan.ExpectedUniform is { } expected && uniform < expected)
            problems.Add(FormattableString.Invariant($"{uniform} of {expected} uniform samples decoded, nothing after {last:0.#} s was seen"));
        if (frames.Count >= plan.FrameCap)
            problems.Add(FormattableString.Invariant($"the stream runs past its declared duration; sampling stopped at {last:0.#} s"));
        return problems.Count == 0 ? null : string.Join(", ", problems);
    }

    private async Task<(List<VideoFrame> Frames, int ExitCode, string LastError, string? DecodeError)> DecodeTrackAsync(byte[] video, VideoInfo info, VideoTrack track,
        SamplingPlan plan, int firstIndex, Func<int, DecodedImage, ValueTask>? onFrame, CancellationToken ct)
    {
        var (width, height) = FrameSize(track.DisplayWidth, track.DisplayHeight);
        int frameBytes = checked(width * height * 3);
        var images = new List<DecodedImage>();
        var timestamps = new Dictionary<int, long>();
        string? decodeError = null;
        // Frames go from the pipe reader to the consumer through a small queue so that hashing never stalls ffmpeg.
        var queue = Channel.CreateBounded<(int, DecodedImage)>(new BoundedChannelOptions(4) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var consumer = Task.Run(async () =>
        {
            await foreach (var (index, image) in queue.Reader.ReadAllAsync(stop.Token).ConfigureAwait(false))
                if (onFrame is not null) await onFrame(index, image).ConfigureAwait(false);
        }, CancellationToken.None);

        FfmpegProcess.Result result;
        try
        {
            result = await FfmpegProcess.RunAsync(_limits.FfmpegPath, SamplingArguments(info, track, plan), video, async (stdout, token) =>
            {
                try
                {
                    while (images.Count < plan.FrameCap)
                    {
                        var pixels = new byte[frameBytes];
                        int read = await stdout.ReadAtLeastAsync(pixels, frameBytes, throwOnEndOfStream: false, token).ConfigureAwait(false);
                        if (read < frameBytes) break; // the end (a partial frame is dropped)
                        var image = new DecodedImage(width, height, 3, pixels);
                        images.Add(image);
                        await queue.Writer.WriteAsync((firstIndex + images.Count - 1, image), token).ConfigureAwait(false);
                    }
                }
                finally
                {
                    queue.Writer.TryComplete();
                }
            }, line =>
            {
                if (ShowInfo().Match(line) is { Success: true } m && int.TryParse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture, out int n)
                    && double.TryParse(m.Groups[2].ValueSpan, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && double.IsFinite(seconds))
                    lock (timestamps) timestamps.TryAdd(n, (long)Math.Round(seconds * 1000));
                // ffmpeg's own line (never indented or prefixed) when a packet fails to decode: what follows may be unseen.
                else if (line.StartsWith("Error while decoding stream", StringComparison.Ordinal))
                    decodeError ??= FfmpegProcess.Shorten(line);
            }, _limits, _limits.DecodeTimeout, ct).ConfigureAwait(false);
        }
        catch
        {
            stop.Cancel();
            try { await consumer.ConfigureAwait(false); } catch (OperationCanceledException) { }
            throw;
        }
        await consumer.ConfigureAwait(false);

        var frames = new List<VideoFrame>(images.Count);
        for (int i = 0; i < images.Count; i++)
            frames.Add(new VideoFrame(firstIndex + i, timestamps.TryGetValue(i, out var ms) ? ms : -1, images[i]) { Track = track.StreamIndex });
        return (frames, result.ExitCode, result.LastError, decodeError);
    }

    private static async Task CopyBoundedAsync(Stream from, MemoryStream to, int limit, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await from.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
        {
            if (to.Length + read > limit) throw new ModerationException(ErrorCodes.UndecodableMedia, "video could not be read: probe output too large");
            to.Write(buffer, 0, read);
        }
    }

    private static string? Text(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int? Int(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : null;

    private static TimeSpan? Seconds(string? text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && double.IsFinite(s) && s >= 0
            ? s >= TimeSpan.MaxValue.TotalSeconds ? TimeSpan.MaxValue : TimeSpan.FromSeconds(s)
            : null;

    private static string Printable(string s) => new(s.Where(c => c is >= ' ' and < (char)127).Take(32).ToArray());

    /// <summary>A line of ffmpeg's showinfo filter; only ffmpeg writes lines starting with it (container metadata is
    /// printed indented), so the uploader cannot forge one.</summary>
    [GeneratedRegex(@"^\[Parsed_showinfo_\d+ @ 0x[0-9a-fA-F]+\] n:\s*(\d+) pts:\s*\S+\s+pts_time:(\S+)")]
    private static partial Regex ShowInfo();

    [GeneratedRegex(@"Codec \(([^)]{1,40})\) not on whitelist")]
    private static partial Regex NotWhitelisted();

    public void Dispose() => _slots.Dispose();
}
