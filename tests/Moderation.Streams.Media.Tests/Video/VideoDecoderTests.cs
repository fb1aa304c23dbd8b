using Moderation.Streams.Contracts;
using Moderation.Streams.Media.Video;

namespace Moderation.Streams.Media.Tests.Video;

/// <summary>Frames are sampled from real videos by the real ffmpeg: one a second plus scene changes, capped,
/// scaled to at most 512 px, streamed as RGB with their timestamps.</summary>
public sealed class VideoDecoderTests : IDisposable
{
    private readonly TestVideos _videos = new();
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<SampledVideo> SampleAsync(byte[] video, VideoLimits? limits = null, Func<int, DecodedImage, ValueTask>? onFrame = null)
    {
        using var decoder = new VideoDecoder(limits ?? new VideoLimits());
        return await decoder.SampleAsync(video, onFrame, Ct);
    }

    [Fact]
    public async Task An_mp4_gives_one_frame_per_second_with_its_timestamp_as_rgb_at_its_own_size()
    {
        var video = _videos.TestSrc(seconds: 4);
        var seen = new List<int>();
        var sampled = await SampleAsync(video, new VideoLimits { SceneThreshold = 0 }, (i, _) => { lock (seen) seen.Add(i); return ValueTask.CompletedTask; });

        Assert.Equal(("h264", 320, 240, VideoContainer.Mp4), (sampled.Info.Codec, sampled.Info.Width, sampled.Info.Height, sampled.Info.Container));
        Assert.Equal(4.0, sampled.Info.Duration!.Value.TotalSeconds, 1);
        Assert.Equal([0L, 1000, 2000, 3000], sampled.Frames.Select(f => f.TimestampMs));
        Assert.All(sampled.Frames, f => Assert.Equal((320, 240, 3, 320 * 240 * 3), (f.Image.Width, f.Image.Height, f.Image.Channels, f.Image.Pixels.Length)));
        Assert.Equal([0, 1, 2, 3], seen);
        // testsrc is colourful and moves: frames differ and none is blank.
        Assert.NotEqual(sampled.Frames[0].Image.Pixels, sampled.Frames[1].Image.Pixels);
        Assert.All(sampled.Frames, f => Assert.Contains(f.Image.Pixels, b => b > 200));
    }

    [Fact]
    public async Task Large_frames_are_scaled_so_the_longer_side_is_512_and_the_frame_count_is_capped()
    {
        var video = _videos.TestSrc("wide.mp4", 1280, 720, seconds: 5, rate: 10);
        var sampled = await SampleAsync(video, new VideoLimits { MaxFrames = 3, SceneThreshold = 0 });

        Assert.Equal(3, sampled.Frames.Count);
        Assert.All(sampled.Frames, f => Assert.Equal((512, 288), (f.Image.Width, f.Image.Height)));
    }

    [Fact]
    public async Task A_scene_change_between_the_seconds_is_sampled_too()
    {
        _videos.Make("a.mp4", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "1.6", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p");
        _videos.Make("b.mp4", "-f", "lavfi", "-i", "smptebars=size=320x240:rate=25", "-t", "1.6", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p");
        var cut = _videos.Make("cut.mp4", "-i", _videos.PathOf("a.mp4"), "-i", _videos.PathOf("b.mp4"),
            "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]", "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p");

        var sampled = await SampleAsync(cut, new VideoLimits { SampleInterval = TimeSpan.FromSeconds(10) });

        Assert.Equal([0L, 1600], sampled.Frames.Select(f => f.TimestampMs));
    }

    [Fact]
    public async Task Webm_vp9_and_rotated_mp4_are_decoded_as_displayed()
    {
        var webm = _videos.Make("bars.webm", "-f", "lavfi", "-i", "smptebars=size=320x240:rate=25", "-t", "2", "-c:v", "libvpx-vp9", "-b:v", "200k", "-deadline", "realtime", "-cpu-used", "8");
        var vp9 = await SampleAsync(webm, new VideoLimits { SceneThreshold = 0 });
        Assert.Equal(("vp9", VideoContainer.WebM, 2), (vp9.Info.Codec, vp9.Info.Container, vp9.Frames.Count));

        _videos.TestSrc("upright.mp4", 320, 240, seconds: 2);
        var rotated = _videos.Make("rotated.mp4", "-i", _videos.PathOf("upright.mp4"), "-c", "copy", "-metadata:s:v", "rotate=90");
        var sampled = await SampleAsync(rotated, new VideoLimits { SceneThreshold = 0 });
        Assert.Equal(90, sampled.Info.Rotation);
        Assert.All(sampled.Frames, f => Assert.Equal((240, 320), (f.Image.Width, f.Image.Height)));
    }

    [Fact]
    public async Task An_hevc_mp4_and_an_av1_webm_are_screened_codecs()
    {
        var hevc = _videos.Make("hevc.mp4", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "2", "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1");
        Assert.Equal(("hevc", 2), await CodecAndFrames(hevc));
        var av1 = _videos.Make("av1.webm", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "2", "-c:v", "libaom-av1", "-cpu-used", "8", "-b:v", "100k");
        Assert.Equal(("av1", 2), await CodecAndFrames(av1));

        async Task<(string, int)> CodecAndFrames(byte[] v)
        {
            var s = await SampleAsync(v, new VideoLimits { SceneThreshold = 0 });
            return (s.Info.Codec, s.Frames.Count);
        }
    }

    [Fact]
    public async Task An_mp4_larger_than_ffmpegs_probe_buffer_with_its_index_at_the_end_is_read_through_the_pipe()
    {
        // Lossless noise does not compress: about 8 MB, its moov after the mdat (ffmpeg's default layout).
        var video = _videos.Make("big.mp4", "-f", "lavfi", "-i", "nullsrc=size=320x240:rate=25,geq=random(1)*255:128:128", "-t", "3",
            "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0");
        Assert.True(video.Length > 5_000_000, $"the test video is only {video.Length} bytes");
        Assert.True(TestVideos.TopLevelBox(video, "moov") > TestVideos.TopLevelBox(video, "mdat"));

        var fast = Mp4Faststart.Apply(video);
        Assert.True(TestVideos.TopLevelBox(fast, "moov") < TestVideos.TopLevelBox(fast, "mdat"));
        var sampled = await SampleAsync(video, new VideoLimits { SceneThreshold = 0 });

        Assert.Equal([0L, 1000, 2000], sampled.Frames.Select(f => f.TimestampMs));
    }

    [Fact]
    public async Task A_strobe_spends_only_the_scene_budget_and_the_uniform_samples_still_reach_the_end()
    {
        // 3 s of black/white strobe at 25 fps flipping every second frame (ffmpeg scores a scene change on every other
        // frame; a flip on every frame scores 0 after the first), then 3 s of test pattern.
        var video = _videos.Make("strobe.mp4", "-f", "lavfi", "-i", "nullsrc=size=64x48:rate=25:duration=3,geq=lum=255*mod(floor(N/2)\\,2):cb=128:cr=128",
            "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=3", "-filter_complex", "[0:v]format=yuv420p,setsar=1[a];[1:v]format=yuv420p,setsar=1[b];[a][b]concat=n=2:v=1[v]",
            "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast");
        var sampled = await SampleAsync(video, new VideoLimits { MaxSceneFrames = 5 });

        var onGrid = sampled.Frames.Where(f => f.TimestampMs % 1000 == 0).Select(f => f.TimestampMs).ToList();
        Assert.Equal([0L, 1000, 2000, 3000, 4000, 5000], onGrid);
        Assert.Equal(5, sampled.Frames.Count - onGrid.Count);
        Assert.Equal(sampled.Frames.Select(f => f.TimestampMs).Order(), sampled.Frames.Select(f => f.TimestampMs));
        Assert.Null(sampled.NotCovered);
    }

    [Fact]
    public async Task Every_video_track_is_sampled_and_a_long_video_is_spread_evenly_but_reported_as_not_covered()
    {
        _videos.TestSrc("one.mp4", 64, 48, seconds: 2);
        _videos.Make("two.mp4", "-f", "lavfi", "-i", "smptebars=size=80x60:rate=25:duration=3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p");
        var tracks = _videos.Make("tracks.mp4", "-i", _videos.PathOf("one.mp4"), "-i", _videos.PathOf("two.mp4"), "-map", "0:v", "-map", "1:v", "-c", "copy",
            "-disposition:v:0", "0", "-disposition:v:1", "default");
        var both = await SampleAsync(tracks, new VideoLimits { SceneThreshold = 0 });
        Assert.Equal(2, both.Info.Tracks.Count);
        Assert.Equal([(0, 0L), (0, 1000), (1, 0), (1, 1000), (1, 2000)], both.Frames.Select(f => (f.Track, f.TimestampMs)));
        Assert.Equal((80, 60), (both.Frames[^1].Image.Width, both.Frames[^1].Image.Height));
        Assert.Null(both.NotCovered);
        // Every track is decoded in full, so the declared-frame limit applies to them together (50 + 75 frames).
        using (var decoder = new VideoDecoder(new VideoLimits { MaxDeclaredFrames = 100 }))
            Assert.Equal(ErrorCodes.MediaTooLarge, (await Assert.ThrowsAsync<ModerationException>(() => decoder.SampleAsync(tracks, null, Ct))).Code);

        var video = _videos.TestSrc("long.mp4", 64, 48, seconds: 12, rate: 5);
        var sparse = await SampleAsync(video, new VideoLimits { SceneThreshold = 0, MaxFrames = 4, MaxSampleGap = TimeSpan.FromSeconds(2) });
        Assert.Equal([0L, 3000, 6000, 9000], sparse.Frames.Select(f => f.TimestampMs));
        Assert.Contains("sampled only every 3 s", sparse.NotCovered);
    }

    [Fact]
    public async Task A_video_with_cover_art_is_refused_since_the_picture_is_not_a_screened_codec()
    {
        // Players and file browsers show an attached picture (cover art): it is never silently left unscreened.
        _videos.TestSrc("plain.mp4", 64, 48, seconds: 1);
        File.WriteAllBytes(_videos.PathOf("cover.png"), SampleImages.Png(3, 64, 48));
        var covered = _videos.Make("covered.mp4", "-i", _videos.PathOf("plain.mp4"), "-i", _videos.PathOf("cover.png"), "-map", "0", "-map", "1", "-c", "copy",
            "-disposition:v:1", "attached_pic");
        using var decoder = new VideoDecoder(new VideoLimits());
        var e = await Assert.ThrowsAsync<ModerationException>(() => decoder.SampleAsync(covered, null, Ct));
        Assert.Equal(ErrorCodes.UnsupportedMedia, e.Code);
        Assert.Contains("png", e.Message);
    }

    [Fact]
    public void Faststart_leaves_files_alone_when_the_index_already_comes_first_or_the_boxes_do_not_add_up()
    {
        var video = _videos.TestSrc("fast.mp4", seconds: 1, extra: ["-movflags", "+faststart"]);
        Assert.Same(video, Mp4Faststart.Apply(video));
        var garbage = new byte[] { 0, 0, 0, 0x20, (byte)'f', (byte)'t', (byte)'y', (byte)'p', 0xFF, 0xFF };
        Assert.Same(garbage, Mp4Faststart.Apply(garbage));
    }

    [Fact]
    public void Containers_are_chosen_from_the_magic_bytes_only()
    {
        Assert.Equal(VideoContainer.Mp4, VideoSniffer.Sniff(_videos.TestSrc("s.mp4", seconds: 1)));
        Assert.Equal(VideoContainer.WebM, VideoSniffer.Sniff([0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81]));
        Assert.Null(VideoSniffer.Sniff("#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n"u8));
        Assert.Null(VideoSniffer.Sniff("ffconcat version 1.0\nfile /etc/passwd\n"u8));
        Assert.Null(VideoSniffer.Sniff(SampleImages.Png(1)));
        Assert.Null(VideoSniffer.Sniff("\0\0\0\x18ftypheic\0\0\0\0mif1heic"u8)); // a HEIF still
        var e = Assert.Throws<ModerationException>(() => VideoSniffer.Require(SampleImages.Jpeg(1)));
        Assert.Equal(ErrorCodes.UnsupportedMedia, e.Code);
    }

    public void Dispose() => _videos.Dispose();
}
