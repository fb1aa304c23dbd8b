using System.Text.Encodings.Web;
using System.Text.Json;
using Moderation.Streams.Hashing;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Inference;
using Moderation.Streams.Media;
using Moderation.Streams.Media.Video;
using Moderation.Streams.Worker;

namespace Moderation.Streams.Cli.Commands;

/// <summary>Video files in the <c>hash</c> and <c>classify</c> verbs: frames sampled as the worker samples them
/// (<see cref="VideoLimits"/> defaults), one hash line per frame, one aggregated JSON line per video.</summary>
internal static class VideoFiles
{
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>True when the file starts like an MP4/MOV or WebM (by its bytes, not its name).</summary>
    /// <exception cref="Contracts.ModerationException">Not a regular file (a FIFO, a device): <c>unsupported-media</c>, without blocking.</exception>
    public static bool IsVideo(string path)
    {
        Span<byte> head = stackalloc byte[64];
        using var file = Contracts.RegularFile.OpenRead(path, Contracts.ErrorCodes.UnsupportedMedia);
        int read = 0, n;
        while (read < head.Length && (n = RandomAccess.Read(file, head[read..], read)) > 0) read += n;
        return VideoSniffer.Sniff(head[..read]) is not null;
    }

    /// <summary>One line per sampled frame, <c>hash,quality,path#t=SECONDS</c> (the 8 dihedral hashes with
    /// <paramref name="dihedral"/>): imported into a bank, the lines make a banked video.</summary>
    /// <exception cref="Contracts.ModerationException">The video could not be screened.</exception>
    public static IEnumerable<string> HashLines(string path, bool dihedral, long maxBytes)
    {
        using var decoder = new VideoDecoder(new VideoLimits());
        var (_, frames) = VideoHashing.HashAsync(decoder, ImageDecoder.ReadFile(path, maxBytes), dihedral, CancellationToken.None).GetAwaiter().GetResult();
        return frames.Select(f =>
        {
            var id = VideoMatcher.FrameId(path, f.TimestampMs);
            return f.Dihedral is { } d ? d.FormatLine(id) : new PdqResult(f.Hash, f.Quality).FormatLine(id);
        }).ToArray();
    }

    /// <summary><c>{"path":…,"model":…,"scores":{highest frame score per class},"frames_sampled":M,
    /// "frame_ms":{class: time of its highest frame}}</c>.</summary>
    public static string ClassifyLine(string path, OnnxImageClassifier classifier, long maxBytes)
    {
        using var decoder = new VideoDecoder(new VideoLimits());
        var sampled = decoder.SampleAsync(ImageDecoder.ReadFile(path, maxBytes), null, CancellationToken.None).GetAwaiter().GetResult();
        var scores = classifier.Classify(sampled.Frames.Select(f => f.Image).ToArray());
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, JsonOptions))
        {
            json.WriteStartObject();
            json.WriteString("path", path);
            ClassifyCommand.WriteModel(json, classifier.Model);
            var labels = scores[0].Labels;
            var best = new int[labels.Count];
            for (int l = 0; l < labels.Count; l++)
                for (int f = 1; f < scores.Count; f++)
                    if (scores[f].Values[l] > scores[best[l]].Values[l]) best[l] = f;
            json.WriteStartObject("scores");
            for (int l = 0; l < labels.Count; l++) json.WriteNumber(labels[l], scores[best[l]].Values[l]);
            json.WriteEndObject();
            json.WriteNumber("frames_sampled", scores.Count);
            json.WriteStartObject("frame_ms");
            for (int l = 0; l < labels.Count; l++) json.WriteNumber(labels[l], sampled.Frames[best[l]].TimestampMs);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}

/// <summary>The <c>demo</c>'s videos, generated with ffmpeg when it is installed.</summary>
internal static class DemoVideos
{
    /// <param name="File">Name under the media root.</param>
    /// <param name="Kind">What the demo's table calls it.</param>
    /// <param name="Dlq">True when it is broken on purpose.</param>
    public sealed record Video(string File, string Kind, bool Dlq);

    /// <summary>Writes a few short videos into <paramref name="root"/> (an H.264 MP4, a VP9 WebM, a truncated MP4 and an
    /// HLS playlist naming /etc/passwd); none, with a printed note, when ffmpeg is missing.</summary>
    public static IReadOnlyList<Video> Generate(string root)
    {
        var videos = new List<Video>();
        bool Make(string file, params string[] args)
        {
            var psi = new System.Diagnostics.ProcessStartInfo("ffmpeg") { RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "-hide_banner", "-nostdin", "-v", "error", "-y" }.Concat(args).Append(Path.Combine(root, file))) psi.ArgumentList.Add(a);
            try
            {
                using var p = System.Diagnostics.Process.Start(psi)!;
                p.StandardError.ReadToEnd();
                p.WaitForExit();
                return p.ExitCode == 0;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                return false;
            }
        }
        if (!Make("video-testsrc.mp4", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"))
        {
            Console.WriteLine("demo: ffmpeg not found (apt-get install ffmpeg): no video uploads in this run");
            return videos;
        }
        videos.Add(new Video("video-testsrc.mp4", "video mp4 (h264)", false));
        if (Make("video-bars.webm", "-f", "lavfi", "-i", "smptebars=size=320x240:rate=25", "-t", "3", "-c:v", "libvpx-vp9", "-b:v", "200k", "-deadline", "realtime", "-cpu-used", "8"))
            videos.Add(new Video("video-bars.webm", "video webm (vp9)", false));
        var whole = File.ReadAllBytes(Path.Combine(root, "video-testsrc.mp4"));
        File.WriteAllBytes(Path.Combine(root, "video-truncated.mp4"), whole[..(whole.Length / 2)]);
        videos.Add(new Video("video-truncated.mp4", "broken: truncated video", true));
        File.WriteAllText(Path.Combine(root, "video-playlist.m3u8"), "#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n");
        videos.Add(new Video("video-playlist.m3u8", "hostile: HLS playlist video", true));
        return videos;
    }
}
