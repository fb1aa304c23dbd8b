using System.Diagnostics;
using System.Text;
using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Media;
using Moderation.Streams.Media.Video;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;

namespace Moderation.Streams.Worker.Tests;

/// <summary>Video uploads on the embedded stack with the real ffmpeg and model: one decision per video listing the
/// frames that drove it, banked videos and banked images inside videos taken down without inference, the exact-video
/// cache, and hostile videos costing one DLQ record each while the worker keeps going.</summary>
public sealed class VideoScreeningTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_video_gets_one_decision_listing_the_frames_that_drove_it_and_a_byte_identical_reupload_comes_from_the_cache()
    {
        using var videos = new Adversarial.AdversarialMedia(); // tiny videos made by the real ffmpeg
        await using var stack = new EmbeddedStack();
        // A policy under which every frame counts: the reason must list them all.
        var policy = Path.Combine(stack.MediaRoot.FullName, "policy.json");
        File.WriteAllText(policy, """{"version":"video-test","review":{"drawing":0.000001}}""");
        var mp4 = videos.Make("clip.mp4", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p");
        var webm = videos.Make("bars.webm", "-f", "lavfi", "-i", "smptebars=size=320x240:rate=25", "-t", "2", "-c:v", "libvpx-vp9", "-b:v", "200k", "-deadline", "realtime", "-cpu-used", "8");
        using var host = stack.StartWorker(new() { ["Screening:PolicyFile"] = policy });
        stack.Produce([("mp4", EmbeddedStack.Upload("mp4", stack.WriteImage("clip.mp4", mp4), MediaTypes.Video)),
                       ("webm", UploadEventParser.Serialize(new UploadEvent { ContentId = "webm", MediaType = MediaTypes.Video, Media = new MediaRef { Data = webm } }))]);
        var first = stack.ReadOutcomes(2, settle: TimeSpan.Zero);

        foreach (var (key, frames) in new[] { ("mp4", new long[] { 0, 1000, 2000 }), ("webm", [0, 1000]) })
        {
            var decision = Assert.Single(first, r => r.Key == key).Decision;
            Assert.Equal((Actions.Review, false, "nsfw-mobilenet-v2@1"), (decision.Action, decision.Cached, decision.ModelVersion));
            Assert.Equal(Policy.KnownLabels.Order(), decision.Scores!.Keys.Order());
            Assert.Equal(64, decision.Pdq!.Hash.Length);
            var reason = Assert.Single(decision.Reasons);
            Assert.Equal(("model", "drawing"), (reason.Source, reason.Label));
            Assert.Equal(frames, reason.FrameTimestampsMs);
            Assert.Equal(frames.Length, reason.FramesSampled);
            Assert.Equal(decision.Scores["drawing"], reason.Score); // the highest frame score decides
        }

        // The same bytes again, under another content id: the exact-video cache answers, with the same decision.
        stack.Produce([("mp4-again", EmbeddedStack.Upload("mp4-again", stack.WriteImage("again.mp4", mp4), MediaTypes.Video))]);
        var again = stack.ReadOutcomes(3, settle: TimeSpan.Zero).Single(r => r.Key == "mp4-again").Decision;
        var original = first.Single(r => r.Key == "mp4").Decision;
        Assert.True(again.Cached);
        Assert.Equal(original.Action, again.Action);
        Assert.Equal(original.Reasons.Single().FrameTimestampsMs, again.Reasons.Single().FrameTimestampsMs);
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task A_reencoded_resized_copy_of_a_banked_video_and_a_video_showing_a_banked_image_are_taken_down_without_inference()
    {
        using var videos = new Adversarial.AdversarialMedia(); // tiny videos made by the real ffmpeg
        await using var stack = new EmbeddedStack();
        // The banked video: a slideshow of four distinct pictures, a second each.
        for (int i = 0; i < 4; i++) File.WriteAllBytes(videos.PathOf($"slide{i}.png"), SampleImages.Png(7100 + i, 640, 480));
        var original = videos.Make("original.mp4", "-framerate", "1", "-i", videos.PathOf("slide%d.png"), "-r", "25", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p");
        // The copy: VP9 in WebM at 60% of the size and a low bitrate.
        var copy = videos.Make("copy.webm", "-i", videos.PathOf("original.mp4"), "-vf", "scale=384:288", "-c:v", "libvpx-vp9", "-b:v", "120k", "-deadline", "realtime", "-cpu-used", "8");
        // A banked picture shown for two seconds between unrelated footage.
        var banked = SampleImages.Png(7200, 640, 480);
        File.WriteAllBytes(videos.PathOf("banked.png"), banked);
        var quoting = videos.Make("quoting.mp4", "-f", "lavfi", "-i", "testsrc=size=640x480:rate=25:duration=2", "-loop", "1", "-framerate", "25", "-t", "2", "-i", videos.PathOf("banked.png"),
            "-f", "lavfi", "-i", "smptebars=size=640x480:rate=25:duration=2", "-filter_complex", "[0:v][1:v][2:v]concat=n=3:v=1,format=yuv420p[v]", "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast");
        var unrelated = videos.Make("unrelated.mp4", "-f", "lavfi", "-i", "mandelbrot=size=320x240:rate=25", "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p");

        // Bank the original's frames the way `moderation hash` prints them (ids original.mp4#t=…), and the picture.
        using var decoder = new VideoDecoder(new VideoLimits());
        var (_, frames) = await VideoHashing.HashAsync(decoder, original, dihedral: false, Ct);
        var image = ImageDecoder.Decode(banked);
        var picture = new PdqHasher().Hash(image.Pixels, image.Width, image.Height, image.Channels);
        var csv = string.Join("\n", frames.Select(f => $"{f.Hash},{f.Quality},{VideoMatcher.FrameId("original.mp4", f.TimestampMs)},clip-label"))
            + $"\n{picture.Hash},{picture.Quality},pic-9,pic-label,pictures.csv,2025-05-06T07:08:09Z";
        var bankedAt = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var (entries, errors) = BankCsv.Read(new StringReader(csv), "known-bad", "test", bankedAt);
        Assert.Empty(errors);
        Assert.Equal(frames.Length + 1, entries.Count);
        await using (var redis = await RedisConnector.ConnectAsync(stack.Redis.Configuration))
            await new RedisBankStore(redis).ImportAsync("known-bad", entries);

        using var host = stack.StartWorker();
        stack.Produce([("copy", EmbeddedStack.Upload("copy", stack.WriteImage("copy.webm", copy), MediaTypes.Video)),
                       ("quoting", EmbeddedStack.Upload("quoting", stack.WriteImage("quoting.mp4", quoting), MediaTypes.Video)),
                       ("unrelated", EmbeddedStack.Upload("unrelated", stack.WriteImage("unrelated.mp4", unrelated), MediaTypes.Video))]);
        var records = stack.ReadOutcomes(3, settle: TimeSpan.Zero);

        var taken = Assert.Single(records, r => r.Key == "copy").Decision;
        Assert.Equal(Actions.Takedown, taken.Action);
        var reason = Assert.Single(taken.Reasons);
        Assert.Equal(("bank", "known-bad", "original.mp4"), (reason.Source, reason.Bank, reason.MatchId));
        Assert.Equal([0L, 1000, 2000, 3000], reason.FrameTimestampsMs);
        Assert.InRange(reason.Distance!.Value, 0, 31);
        Assert.Equal(("clip-label", "test", bankedAt), (reason.EntryLabel, reason.EntrySource, reason.AddedAt!.Value)); // provenance
        Assert.Null(taken.Scores); // no inference

        var caught = Assert.Single(records, r => r.Key == "quoting").Decision;
        Assert.Equal(Actions.Takedown, caught.Action);
        reason = Assert.Single(caught.Reasons);
        Assert.Equal(("bank", "pic-9"), (reason.Source, reason.MatchId));
        Assert.Equal([2000L, 3000], reason.FrameTimestampsMs);
        Assert.Equal(6, reason.FramesSampled);
        Assert.Equal(("pic-label", "pictures.csv", new DateTimeOffset(2025, 5, 6, 7, 8, 9, TimeSpan.Zero)), (reason.EntryLabel, reason.EntrySource, reason.AddedAt!.Value));
        Assert.Null(caught.Scores);

        var free = Assert.Single(records, r => r.Key == "unrelated").Decision;
        Assert.DoesNotContain(free.Reasons, r => r.Source == "bank");
        Assert.NotNull(free.Scores); // screened by the model
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task A_cached_video_decision_is_taken_down_when_a_mirror_image_of_one_of_its_frames_is_banked_later()
    {
        using var videos = new Adversarial.AdversarialMedia(); // tiny videos made by the real ffmpeg
        await using var stack = new EmbeddedStack();
        var policy = Path.Combine(stack.MediaRoot.FullName, "policy.json");
        File.WriteAllText(policy, """{"version":"mirror-test","review":{"drawing":0.000001},"banks":{"*":"takedown"}}""");
        var picture = SampleImages.Png(7300, 640, 480);
        File.WriteAllBytes(videos.PathOf("still.png"), picture);
        var video = videos.Make("still.mp4", "-loop", "1", "-framerate", "25", "-t", "2", "-i", videos.PathOf("still.png"), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p");
        using var host = stack.StartWorker(new() { ["Screening:PolicyFile"] = policy, ["Banks:Dihedral"] = "true" });

        stack.Produce([("first", EmbeddedStack.Upload("first", stack.WriteImage("first.mp4", video), MediaTypes.Video))]);
        var first = Assert.Single(stack.ReadOutcomes(1, settle: TimeSpan.Zero)).Decision;
        Assert.Equal(Actions.Review, first.Action);

        // Later the left-right mirror image of the picture is banked. A byte-identical re-upload is answered from
        // the cache, whose frames must still carry their rotations and mirror images to be matched again.
        var image = ImageDecoder.Decode(picture);
        var mirrored = new PdqHasher().HashDihedral(image.Pixels, image.Width, image.Height, image.Channels);
        var (entries, errors) = BankCsv.Read(new StringReader($"{mirrored.FlipY},{mirrored.Quality},mirror-1"), "known-bad", "test", DateTimeOffset.UtcNow);
        Assert.Empty(errors);
        await using (var redis = await RedisConnector.ConnectAsync(stack.Redis.Configuration))
            await new RedisBankStore(redis).ImportAsync("known-bad", entries);

        // The worker learns of the bank change over pub/sub (or its periodic check): re-upload until it has.
        DecisionEvent? again = null;
        var deadline = Stopwatch.StartNew();
        for (int attempt = 0; deadline.Elapsed < TimeSpan.FromSeconds(60); attempt++)
        {
            stack.Produce([($"again-{attempt}", EmbeddedStack.Upload($"again-{attempt}", stack.WriteImage($"again-{attempt}.mp4", video), MediaTypes.Video))]);
            again = stack.ReadOutcomes(attempt + 2, settle: TimeSpan.Zero).Single(r => r.Key == $"again-{attempt}").Decision;
            if (again.Action == Actions.Takedown) break;
            Assert.True(again.Cached, "a byte-identical re-upload is answered from the cache");
            await Task.Delay(500, Ct);
        }

        Assert.NotNull(again);
        Assert.Equal(Actions.Takedown, again.Action);
        var reason = Assert.Single(again.Reasons);
        Assert.Equal(("bank", "known-bad", "mirror-1"), (reason.Source, reason.Bank, reason.MatchId));
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task Hostile_videos_cost_one_dlq_record_each_with_their_code_never_touch_files_and_every_neighbour_is_decided()
    {
        using var videos = new Adversarial.AdversarialMedia(); // tiny videos made by the real ffmpeg
        await using var stack = new EmbeddedStack();
        var good = videos.Make("good.mp4", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p");
        var fast = videos.Make("fast.mp4", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart");
        var lying = (byte[])fast.Clone();
        int mvhd = lying.AsSpan().IndexOf("mvhd"u8) + 4;
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(lying.AsSpan(mvhd + 16), uint.MaxValue); // ~50 days at any timescale ≤ 1000
        var wide = videos.Make("wide.mp4", "-f", "lavfi", "-i", "color=c=red:size=4352x16:rate=5", "-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p");
        var empty = videos.Make("empty.mp4", "-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "0", "-c:v", "libx264");
        // A FIFO canary inside the media root: a playlist naming it must never make anything open it.
        var canary = Path.Combine(stack.MediaRoot.FullName, "canary");
        using (var mk = Process.Start("mkfifo", [canary])) mk.WaitForExit();
        var opened = Task.Run(() => { using var w = new FileStream(canary, FileMode.Open, FileAccess.Write); }, Ct);

        var hostile = new (string Key, string Name, byte[] Bytes, string Code)[]
        {
            ("hls", "list.m3u8", Encoding.ASCII.GetBytes($"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/passwd\n#EXTINF:1,\n{canary}\n#EXT-X-ENDLIST\n"), ErrorCodes.UnsupportedMedia),
            ("truncated", "cut.mp4", good[..(good.Length / 2)], ErrorCodes.UndecodableMedia),
            ("zero-frames", "empty.mp4", empty, ErrorCodes.UndecodableMedia),
            ("long-claim", "lying.mp4", lying, ErrorCodes.MediaTooLarge),
            ("huge", "wide.mp4", wide, ErrorCodes.MediaTooLarge),
            ("picture", "picture.png", SampleImages.Png(7300), ErrorCodes.UnsupportedMedia),
        };
        using var host = stack.StartWorker();
        var uploads = new List<(string, byte[])>();
        for (int i = 0; i < hostile.Length; i++)
        {
            uploads.Add(($"good-{i}", EmbeddedStack.Upload($"good-{i}", stack.WriteImage($"good-{i}.mp4", good), MediaTypes.Video)));
            uploads.Add((hostile[i].Key, EmbeddedStack.Upload(hostile[i].Key, stack.WriteImage(hostile[i].Name, hostile[i].Bytes), MediaTypes.Video)));
        }
        uploads.Add(("good-last", EmbeddedStack.Upload("good-last", stack.WriteImage("good-last.png", SampleImages.Png(7301)))));
        stack.Produce(uploads);
        var records = stack.ReadOutcomes(uploads.Count);

        Assert.Equal(uploads.Count, records.Count);
        foreach (var (key, _, _, code) in hostile)
        {
            var record = Assert.Single(records, r => r.Key == key);
            Assert.Equal((key, Topics.Dlq, code), (key, record.Topic, record.Header(DlqHeaders.ErrorCode)));
        }
        Assert.All(records.Where(r => r.Key!.StartsWith("good-")), r => Assert.NotEqual(Topics.Dlq, r.Topic));
        Assert.False(opened.IsCompleted, "something opened the file a playlist named");
        using (new FileStream(canary, FileMode.Open, FileAccess.Read)) { }
        await opened;

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (stack.CommittedVsEnd().Any(p => p.Committed < p.High && p.High > 0))
        {
            Assert.True(DateTime.UtcNow < deadline, "offsets were not committed");
            await Task.Delay(100, Ct);
        }
        await host.StopAsync(Ct);
    }
}
