using Moderation.Streams.Contracts;
using Moderation.Streams.Media.Video;
using SkiaSharp;

namespace Moderation.Streams.Media;

/// <summary>
/// Decodes every frame a viewer of an animated GIF, WebP or PNG can see. GIF and WebP frames are composed by Skia
/// (<see cref="SKCodec.FrameInfo"/>, <see cref="SKCodecOptions.PriorFrame"/>); APNG frames by <see cref="ApngReader"/>
/// (Skia decodes only a PNG's default image), and the APNG's default image is decoded too, whether or not the
/// animation shows it. Each composed frame goes to a callback (the screener hashes all of them); an even spread of
/// them is kept, scaled down, for the model. Limits: the still-image checks first (bytes, format, header pixels), then
/// <see cref="DecodeLimits.MaxFramesDecoded"/> and <see cref="DecodeLimits.MaxAnimationPixels"/>; frames past them
/// are reported as not covered. A still image (one frame) is not an animation: <see cref="ImageDecoder"/> decodes it.
/// </summary>
public static class AnimatedImageDecoder
{
    /// <summary>Longer side of the frames kept for the model (the video frames' default).</summary>
    public const int SampledMaxSide = 512;

    /// <summary>True when the bytes are a GIF or WebP of more than one frame, or an APNG (even of one frame: its
    /// default image may not be the picture APNG viewers show).</summary>
    public static bool IsAnimated(byte[] encoded)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        var format = MediaSniffer.Sniff(encoded);
        if (format == MediaFormat.Png) return ApngReader.IsApng(encoded);
        if (format is not (MediaFormat.Gif or MediaFormat.Webp)) return false;
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data);
        return codec is not null && codec.FrameCount > 1;
    }

    /// <summary><see cref="Decode"/> on the image decoders' gate and under <see cref="DecodeLimits.TimeBudget"/> (the
    /// frame loop stops at the budget: <c>undecodable-media</c>).</summary>
    public static Task<DecodedAnimation> DecodeAsync(byte[] encoded, DecodeLimits limits, Action<int, long, DecodedImage>? onFrame, CancellationToken ct) =>
        ImageDecoder.RunGatedAsync(token => Decode(encoded, limits, onFrame, token), limits, ct);

    /// <param name="onFrame">Sees every decoded frame at full size (index, display time in ms, RGB pixels).</param>
    /// <exception cref="ModerationException">As <see cref="ImageDecoder.Decode"/> for the file itself.</exception>
    public static DecodedAnimation Decode(byte[] encoded, DecodeLimits limits, Action<int, long, DecodedImage>? onFrame, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(limits);
        limits.Validate();
        // The still-image checks (size, format, header pixels), and the first frame / default image as a still.
        var first = ImageDecoder.Decode(encoded, limits with { JpegScaleMinSide = 0 });
        var format = MediaSniffer.Sniff(encoded);
        // Every frame is turned as the first one was (the file's one recorded orientation), so all frames are seen upright.
        var origin = (SKEncodedOrigin)first.StoredOrientation;
        var frames = new List<(int Index, long Ms, DecodedImage Image)>();
        int decoded = 0;
        string? notCovered;
        HashSet<int> selected = [];
        void Take(int index, long ms, DecodedImage image)
        {
            decoded++;
            onFrame?.Invoke(index, ms, image);
            if (selected.Contains(index)) frames.Add((index, ms, Shrink(image)));
        }

        if (format == MediaFormat.Png)
        {
            var apng = new ApngReader(encoded);
            int budget = FrameBudget(apng.Width, apng.Height, limits);
            int offset = 0;
            selected = Spread((apng.DefaultIsFrame ? 0 : 1) + Math.Min(apng.FrameCount, budget), limits.MaxAnimationFrames);
            if (!apng.DefaultIsFrame)
            {
                // The default image is shown by viewers that do not know APNG: screened as frame 0.
                Take(0, 0, first);
                offset = 1;
            }
            notCovered = apng.Compose(budget, (i, ms, canvas) => Take(offset + i, ms, ImageDecoder.UprightRgb(canvas, apng.Width, apng.Height, origin)), ct);
            if (notCovered is null && apng.FrameCount > budget)
                notCovered = $"{apng.FrameCount} frames, only the first {budget} decoded (limits: {limits.MaxFramesDecoded} frames, {limits.MaxAnimationPixels} pixels)";
        }
        else
        {
            using var data = SKData.CreateCopy(encoded);
            using var codec = SKCodec.Create(data) ?? throw new ModerationException(ErrorCodes.UndecodableMedia, $"{format} header is truncated or corrupt");
            var infos = codec.FrameInfo;
            int declared = Math.Max(1, codec.FrameCount);
            int width = codec.Info.Width, height = codec.Info.Height;
            int budget = FrameBudget(width, height, limits);
            selected = Spread(Math.Min(budget, declared), limits.MaxAnimationFrames);
            notCovered = ComposeSkia(codec, infos, width, height, origin, Math.Min(budget, declared), Take, ct);
            if (notCovered is null && declared > budget)
                notCovered = $"{declared} frames, only the first {budget} decoded (limits: {limits.MaxFramesDecoded} frames, {limits.MaxAnimationPixels} pixels)";
        }
        var sampled = frames.Select(f => new VideoFrame(f.Index, f.Ms, f.Image)).ToArray();
        if (sampled.Length == 0) throw new ModerationException(ErrorCodes.UndecodableMedia, notCovered ?? "animation has no decodable frames");
        return new DecodedAnimation(decoded, sampled, notCovered);
    }

    private static string? ComposeSkia(SKCodec codec, SKCodecFrameInfo[] infos, int width, int height, SKEncodedOrigin origin, int count, Action<int, long, DecodedImage> take, CancellationToken ct)
    {
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul, null);
        var canvas = new byte[(long)info.RowBytes * height];
        long ms = 0;
        for (int i = 0; i < count; i++)
        {
            ct.ThrowIfCancellationRequested();
            // The canvas holds frame i-1: Skia draws frame i over it when i-1 is a frame it may build on.
            int required = i < infos.Length ? infos[i].RequiredFrame : -1;
            int prior = required < 0 ? -1 : i - 1;
            // An independent frame starts from a transparent canvas (Skia draws only the frame's own rectangle).
            if (prior < 0) Array.Clear(canvas);
            var result = GetPixels(codec, info, canvas, i, prior);
            if (result == SKCodecResult.InvalidParameters && prior >= 0)
            {
                Array.Clear(canvas);
                result = GetPixels(codec, info, canvas, i, -1); // Skia decodes the frames this one needs itself
            }
            if (result != SKCodecResult.Success)
                return FormattableString.Invariant($"frame {i} of {count} could not be decoded ({result}); it and the frames after it were not screened");
            take(i, ms, ImageDecoder.UprightRgb(canvas, width, height, origin));
            ms += i < infos.Length ? Math.Max(0, infos[i].Duration) : 0;
        }
        return null;
    }

    private static unsafe SKCodecResult GetPixels(SKCodec codec, SKImageInfo info, byte[] canvas, int index, int prior)
    {
        fixed (byte* p = canvas) return codec.GetPixels(info, (IntPtr)p, new SKCodecOptions(index, prior));
    }

    private static int FrameBudget(int width, int height, DecodeLimits limits) =>
        (int)Math.Max(1, Math.Min(limits.MaxFramesDecoded, limits.MaxAnimationPixels / Math.Max(1L, (long)width * height)));

    /// <summary>Indices of <paramref name="target"/> frames spread evenly over <paramref name="count"/> (first and last
    /// included), or all of them when there are no more than that.</summary>
    private static HashSet<int> Spread(int count, int target)
    {
        if (count <= target) return [.. Enumerable.Range(0, count)];
        if (target == 1) return [0];
        return [.. Enumerable.Range(0, target).Select(k => (int)Math.Round((double)k * (count - 1) / (target - 1)))];
    }

    /// <summary>A frame scaled so that its longer side is at most <see cref="SampledMaxSide"/> (never up).</summary>
    private static DecodedImage Shrink(DecodedImage image)
    {
        int w = image.Width, h = image.Height;
        if (w <= SampledMaxSide && h <= SampledMaxSide) return image;
        var (tw, th) = w >= h
            ? (SampledMaxSide, Math.Max(1, (int)Math.Round((double)h * SampledMaxSide / w)))
            : (Math.Max(1, (int)Math.Round((double)w * SampledMaxSide / h)), SampledMaxSide);
        var rgba = new byte[w * h * 4];
        var rgb = image.ToRgb();
        for (int s = 0, d = 0; s < rgb.Length; s += 3, d += 4) { rgba[d] = rgb[s]; rgba[d + 1] = rgb[s + 1]; rgba[d + 2] = rgb[s + 2]; rgba[d + 3] = 255; }
        var target = new byte[tw * th * 4];
        unsafe
        {
            fixed (byte* sp = rgba)
            fixed (byte* tp = target)
            {
                using var source = new SKPixmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul, null), (IntPtr)sp);
                using var scaled = new SKPixmap(new SKImageInfo(tw, th, SKColorType.Rgba8888, SKAlphaType.Unpremul, null), (IntPtr)tp);
                source.ScalePixels(scaled, new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
            }
        }
        var output = new byte[tw * th * 3];
        ImageDecoder.DropAlpha(target, output);
        return new DecodedImage(tw, th, 3, output);
    }
}
