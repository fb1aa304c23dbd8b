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
/// RGB (never written to disk): one every <see cref="VideoLimits.SampleInterval"/> plus scene changes, at most
/// <see cref="VideoLimits.MaxFrames"/>, scaled to at most <see cref="VideoLimits.FrameMaxSide"/>.
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
            var frames = await DecodeAsync(video, info, onFrame, ct).ConfigureAwait(false);
            return new SampledVideo(info, frames);
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

    /// <summary>The ffmpeg arguments that sample a probed video to raw RGB on standard output.</summary>
    public IReadOnlyList<string> SamplingArguments(VideoInfo info, bool showFrames = true)
    {
        var (width, height) = FrameSize(info);
        string interval = _limits.SampleInterval.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
        string select = $"isnan(prev_selected_t)+gte(t-prev_selected_t,{interval})";
        if (_limits.SceneThreshold > 0) select += "+gt(scene," + _limits.SceneThreshold.ToString("0.###", CultureInfo.InvariantCulture) + ")";
        var args = new List<string> { "-hide_banner", "-nostdin", "-nostats", "-loglevel", showFrames ? "info" : "error" };
        args.AddRange(InputArguments(info.Container));
        if (_limits.DecoderThreads > 0) args.AddRange(["-threads", _limits.DecoderThreads.ToString(CultureInfo.InvariantCulture)]);
        // Decoding stops at the duration limit whatever the container claimed.
        args.AddRange(["-t", _limits.MaxDuration.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture), "-i", "pipe:0"]);
        args.AddRange(["-map", "0:v:0", "-an", "-sn", "-dn",
            "-vf", $"select='{select}',scale={width}:{height}:flags=area,format=rgb24" + (showFrames ? ",showinfo" : ""),
            "-fps_mode", "vfr", "-frames:v", _limits.MaxFrames.ToString(CultureInfo.InvariantCulture),
            "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]);
        return args;
    }

    /// <summary>Size of the sampled frames: the displayed size scaled down (never up) so that the longer side is at
    /// most <see cref="VideoLimits.FrameMaxSide"/>, aspect kept.</summary>
    public (int Width, int Height) FrameSize(VideoInfo info)
    {
        int w = info.DisplayWidth, h = info.DisplayHeight, max = _limits.FrameMaxSide;
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
        if (!_limits.VideoCodecs.Contains(info.Codec, StringComparer.Ordinal))
            throw new ModerationException(ErrorCodes.UnsupportedMedia, $"video codec '{Printable(info.Codec)}' is not screened (screened: {string.Join(", ", _limits.VideoCodecs)})");
        if (info.Width < 1 || info.Height < 1)
            throw new ModerationException(ErrorCodes.UndecodableMedia, "video stream has no dimensions");
        if (info.Width > _limits.MaxSide || info.Height > _limits.MaxSide || (long)info.Width * info.Height > _limits.MaxPixels)
            throw new ModerationException(ErrorCodes.MediaTooLarge, $"video of {info.Width}x{info.Height} exceeds the limit ({_limits.MaxSide} px a side, {_limits.MaxPixels} pixels)");
        if (info.Duration is { } d && d > _limits.MaxDuration)
            throw new ModerationException(ErrorCodes.MediaTooLarge, $"video of {d.TotalSeconds:0.#} s exceeds the limit of {_limits.MaxDuration.TotalSeconds:0.#} s");
        if (info.DeclaredFrames is { } n && n > _limits.MaxDeclaredFrames)
            throw new ModerationException(ErrorCodes.MediaTooLarge, $"video declares {n} frames, more than {_limits.MaxDeclaredFrames}");
        if (info.DeclaredFrames == 0)
            throw new ModerationException(ErrorCodes.UndecodableMedia, "video stream has no frames");
        return info;
    }

    internal static VideoInfo ParseProbe(byte[] json, VideoContainer container)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        var format = root.TryGetProperty("format", out var f) ? f : default;
        var streams = root.TryGetProperty("streams", out var s) && s.ValueKind == JsonValueKind.Array ? s.EnumerateArray().ToList() : [];
        int count = format.ValueKind == JsonValueKind.Object && format.TryGetProperty("nb_streams", out var ns) && ns.TryGetInt32(out var n) ? n : streams.Count;
        var video = streams.FirstOrDefault(x => Text(x, "codec_type") == "video"
            && !(x.TryGetProperty("disposition", out var disp) && disp.TryGetProperty("attached_pic", out var pic) && pic.ValueKind == JsonValueKind.Number && pic.GetInt32() == 1));
        // Nothing readable at all is a broken file; streams without a video one (audio only) are not a video.
        if (streams.Count == 0)
            throw new ModerationException(ErrorCodes.UndecodableMedia, "container has no readable stream");
        if (video.ValueKind != JsonValueKind.Object)
            throw new ModerationException(ErrorCodes.UnsupportedMedia, "container has no video stream");
        int width = Int(video, "width") ?? 0, height = Int(video, "height") ?? 0;
        var duration = Seconds(Text(format, "duration")) ?? Seconds(Text(video, "duration"));
        long? frames = long.TryParse(Text(video, "nb_frames"), NumberStyles.None, CultureInfo.InvariantCulture, out var nf) ? nf : null;
        return new VideoInfo(container, Text(video, "codec_name") ?? "unknown", width, height, Rotation(video), duration, frames, count);
    }

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

    private async Task<IReadOnlyList<VideoFrame>> DecodeAsync(byte[] video, VideoInfo info, Func<int, DecodedImage, ValueTask>? onFrame, CancellationToken ct)
    {
        var (width, height) = FrameSize(info);
        int frameBytes = checked(width * height * 3);
        var images = new List<DecodedImage>();
        var timestamps = new Dictionary<int, long>();
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
            result = await FfmpegProcess.RunAsync(_limits.FfmpegPath, SamplingArguments(info), video, async (stdout, token) =>
            {
                try
                {
                    while (images.Count < _limits.MaxFrames)
                    {
                        var pixels = new byte[frameBytes];
                        int read = await stdout.ReadAtLeastAsync(pixels, frameBytes, throwOnEndOfStream: false, token).ConfigureAwait(false);
                        if (read < frameBytes) break; // the end (a partial frame is dropped)
                        var image = new DecodedImage(width, height, 3, pixels);
                        images.Add(image);
                        await queue.Writer.WriteAsync((images.Count - 1, image), token).ConfigureAwait(false);
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
            }, _limits, _limits.DecodeTimeout, ct).ConfigureAwait(false);
        }
        catch
        {
            stop.Cancel();
            try { await consumer.ConfigureAwait(false); } catch (OperationCanceledException) { }
            throw;
        }
        await consumer.ConfigureAwait(false);

        if (images.Count == 0)
            throw new ModerationException(ErrorCodes.UndecodableMedia, result.ExitCode == 0
                ? "video has no decodable frames"
                : $"video could not be decoded: {result.LastError}");
        // A video cut short still yields the frames before the damage; they are screened like any others.
        var frames = new VideoFrame[images.Count];
        for (int i = 0; i < frames.Length; i++)
            frames[i] = new VideoFrame(i, timestamps.TryGetValue(i, out var ms) ? ms : -1, images[i]);
        return frames;
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
