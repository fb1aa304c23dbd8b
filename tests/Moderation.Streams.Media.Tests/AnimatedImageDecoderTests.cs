using Moderation.Streams.Contracts;
using Moderation.Streams.Media.Tests.Video;

namespace Moderation.Streams.Media.Tests;

/// <summary>Every frame of an animated GIF, WebP and PNG is decoded (composed by Skia, or from the APNG chunks), within
/// the frame and pixel limits; what is past them is reported as not covered.</summary>
public sealed class AnimatedImageDecoderTests : IDisposable
{
    private readonly TestVideos _files = new();
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private byte[] Gif(int frames, int width = 64, int height = 48) => _files.Make($"t{frames}.gif",
        "-f", "lavfi", "-i", $"testsrc=size={width}x{height}:rate=1:duration={frames}", "-loop", "0");

    [Fact]
    public void A_gif_is_decoded_frame_by_frame_with_display_times_and_a_still_is_not_an_animation()
    {
        var gif = Gif(4);
        Assert.True(AnimatedImageDecoder.IsAnimated(gif));
        Assert.False(AnimatedImageDecoder.IsAnimated(SampleImages.Png(1)));
        Assert.False(AnimatedImageDecoder.IsAnimated(SampleImages.Jpeg(1)));

        var seen = new List<(int, long)>();
        var result = AnimatedImageDecoder.Decode(gif, DecodeLimits.Default, (i, ms, image) => seen.Add((i, ms)), Ct);

        Assert.Equal([(0, 0L), (1, 1000), (2, 2000), (3, 3000)], seen);
        Assert.Equal(4, result.FramesDecoded);
        Assert.Null(result.NotCovered);
        Assert.Equal([0L, 1000, 2000, 3000], result.Sampled.Select(f => f.TimestampMs));
        // Frame 0 is exactly what the still decoder gives; later frames differ (testsrc moves).
        Assert.Equal(ImageDecoder.Decode(gif).Pixels, result.Sampled[0].Image.Pixels);
        Assert.NotEqual(result.Sampled[0].Image.Pixels, result.Sampled[3].Image.Pixels);
    }

    [Fact]
    public void Frames_past_the_decode_limits_are_not_covered_and_the_model_gets_an_even_spread()
    {
        var gif = Gif(10);
        var limited = AnimatedImageDecoder.Decode(gif, DecodeLimits.Default with { MaxFramesDecoded = 4 }, null, Ct);
        Assert.Equal(4, limited.FramesDecoded);
        Assert.Equal("10 frames, only the first 4 decoded (limits: 4 frames, 400000000 pixels)", limited.NotCovered);

        var byPixels = AnimatedImageDecoder.Decode(gif, DecodeLimits.Default with { MaxAnimationPixels = 64 * 48 * 2 }, null, Ct);
        Assert.Equal(2, byPixels.FramesDecoded);
        Assert.NotNull(byPixels.NotCovered);

        var spread = AnimatedImageDecoder.Decode(gif, DecodeLimits.Default with { MaxAnimationFrames = 4 }, null, Ct);
        Assert.Equal(10, spread.FramesDecoded);
        Assert.Null(spread.NotCovered);
        Assert.Equal([0, 3, 6, 9], spread.Sampled.Select(f => f.Index));
    }

    [Fact]
    public void A_ten_thousand_frame_gif_is_decoded_only_up_to_the_default_frame_limit_and_reported()
    {
        var gif = _files.Make("many.gif", "-f", "lavfi", "-i", "testsrc=size=16x16:rate=100:duration=100", "-loop", "0", "-fps_mode", "passthrough");
        int seen = 0;
        var result = AnimatedImageDecoder.Decode(gif, new MediaOptions().Decode, (_, _, _) => seen++, Ct);

        Assert.Equal((500, 500), (result.FramesDecoded, seen));
        Assert.Equal(60, result.Sampled.Count);
        Assert.Equal("10000 frames, only the first 500 decoded (limits: 500 frames, 400000000 pixels)", result.NotCovered);
    }

    [Fact]
    public async Task An_animation_over_the_time_budget_is_undecodable_and_its_frame_loop_stops_instead_of_running_on()
    {
        var gif = Gif(30);
        var limits = DecodeLimits.Default with { TimeBudget = TimeSpan.FromMilliseconds(500), MaxConcurrentDecodes = 1 };
        using var hold = new ManualResetEventSlim();
        int frames = 0;
        // The second frame's callback holds the loop until the upload has been given up at its budget.
        var e = await Assert.ThrowsAsync<ModerationException>(() => AnimatedImageDecoder.DecodeAsync(gif, limits,
            (i, _, _) => { Interlocked.Increment(ref frames); if (i == 1) hold.Wait(Ct); }, Ct));
        Assert.Equal(ErrorCodes.UndecodableMedia, e.Code);
        hold.Set();

        // The next decode on the same limits waits for the abandoned one's turn: by then its loop has ended.
        try { await ImageDecoder.DecodeAsync(SampleImages.Png(1, 16, 16), limits, Ct); }
        catch (ModerationException) { } // its own budget may run out on a busy machine; the turn was still taken
        // Stopped at the frame after the held one (2); on a very busy machine the budget may run out before the loop
        // reaches the held frame (0 or 1). A loop that ran on after the budget would have decoded all 30.
        Assert.InRange(Volatile.Read(ref frames), 0, 2);
    }

    [Fact]
    public void Animation_limits_out_of_range_are_refused()
    {
        DecodeLimits.Default.Validate();
        Assert.Throws<ArgumentOutOfRangeException>(() => (DecodeLimits.Default with { MaxFramesDecoded = 0 }).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => (DecodeLimits.Default with { MaxAnimationPixels = 0 }).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => (DecodeLimits.Default with { MaxAnimationFrames = 0 }).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => AnimatedImageDecoder.Decode(Gif(2), DecodeLimits.Default with { MaxAnimationFrames = 0 }, null, Ct));
    }

    public void Dispose() => _files.Dispose();
}
