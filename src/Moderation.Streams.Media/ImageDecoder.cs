using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Moderation.Streams.Contracts;
using SkiaSharp;

namespace Moderation.Streams.Media;

/// <summary>
/// Decodes still images with SkiaSharp. What is decoded is what the bytes are: the format is sniffed from
/// magic bytes (<see cref="MediaSniffer"/>) and only JPEG, PNG, GIF, WebP and BMP go further.
/// The header is then checked against <see cref="DecodeLimits"/> before any pixel memory is allocated.
/// Pixels are the decoder's raw output (no colour management) turned upright as a viewer shows them (the file's
/// EXIF orientation applied, <see cref="ImageOrientation.Upright"/>), or as stored when asked
/// (<see cref="ImageOrientation.AsStored"/>: what PDQ's reference hasher reads). Failures are <see cref="ModerationException"/>s: <c>unsupported-media</c> for
/// anything that is not a supported image, <c>media-too-large</c> for limits, <c>undecodable-media</c> for
/// truncated or corrupt data. Large JPEGs are decoded at 1/2, 1/4 or 1/8 scale when
/// <see cref="DecodeLimits.JpegScaleMinSide"/> allows (the worker's setting; off by default). An animation decodes
/// here as its first frame (a PNG as its default image); the worker screens every frame of one through
/// <see cref="AnimatedImageDecoder"/>.
/// </summary>
public static class ImageDecoder
{
    /// <summary>One gate per limits instance (a worker has one, from <c>Media:Decode</c>).</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<DecodeLimits, SemaphoreSlim> Gates = new();

    /// <summary>Decodes a file named by a user (the CLI's verbs, evaluation sets): only a regular file of at most
    /// <see cref="DecodeLimits.MaxBytes"/> is read (<see cref="ReadFile"/>).</summary>
    public static DecodedImage DecodeFile(string path, DecodeLimits? limits = null, ImageOrientation orientation = ImageOrientation.Upright)
    {
        limits ??= DecodeLimits.Default;
        return Decode(ReadFile(path, limits.MaxBytes), limits, orientation);
    }

    /// <summary>The bytes of a regular file of at most <paramref name="maxBytes"/>: a device, FIFO or socket is
    /// <c>unsupported-media</c> without blocking (<see cref="RegularFile"/>), a larger file <c>media-too-large</c>
    /// unread, a missing one <c>media-unavailable</c>.</summary>
    public static byte[] ReadFile(string path, long maxBytes)
    {
        try
        {
            return RegularFile.ReadAllBytes(path, maxBytes, ErrorCodes.UnsupportedMedia);
        }
        catch (FileNotFoundException)
        {
            throw new ModerationException(ErrorCodes.MediaUnavailable, $"no such file: {path}");
        }
    }

    /// <summary>
    /// <see cref="Decode"/> on the thread pool under <see cref="DecodeLimits.TimeBudget"/>: a decode that
    /// overruns answers <c>undecodable-media</c> at the deadline so the upload's partition keeps moving, while
    /// the native decode (which cannot be cancelled) runs to its end in the background. At most
    /// <see cref="DecodeLimits.MaxConcurrentDecodes"/> decodes run at once. Pixels come back upright (the worker's decode).
    /// </summary>
    public static Task<DecodedImage> DecodeAsync(byte[] encoded, DecodeLimits? limits = null, CancellationToken ct = default)
    {
        limits ??= DecodeLimits.Default;
        return RunGatedAsync(_ => Decode(encoded, limits), limits, ct);
    }

    /// <summary>Runs <paramref name="decode"/> on the thread pool under <paramref name="limits"/>' gate and time
    /// budget. The token it is given is cancelled at the budget, so a decode that checks it (an animation's frame
    /// loop) stops there instead of running on in the background.</summary>
    internal static async Task<T> RunGatedAsync<T>(Func<CancellationToken, T> decode, DecodeLimits limits, CancellationToken ct)
    {
        var gate = Gates.GetValue(limits, static l => new SemaphoreSlim(l.MaxConcurrentDecodes > 0 ? l.MaxConcurrentDecodes : Environment.ProcessorCount));
        await gate.WaitAsync(ct).ConfigureAwait(false);
        var budget = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var work = Task.Run(() =>
        {
            try
            {
                return decode(budget.Token);
            }
            finally
            {
                gate.Release();
            }
        }, CancellationToken.None);
        _ = work.ContinueWith(_ => budget.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            return await work.WaitAsync(limits.TimeBudget, ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            try { budget.Cancel(); } catch (ObjectDisposedException) { }
            _ = work.ContinueWith(static t => t.Exception, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously);
            throw new ModerationException(ErrorCodes.UndecodableMedia, $"decoding took longer than the budget of {limits.TimeBudget.TotalSeconds:0.###} s");
        }
    }

    public static DecodedImage Decode(byte[] encoded, DecodeLimits? limits = null, ImageOrientation orientation = ImageOrientation.Upright)
    {
        limits ??= DecodeLimits.Default;
        if (encoded.Length == 0) throw new ModerationException(ErrorCodes.UndecodableMedia, "empty media");
        if (encoded.Length > limits.MaxBytes)
            throw new ModerationException(ErrorCodes.MediaTooLarge, $"{encoded.Length} bytes exceeds the limit of {limits.MaxBytes}");

        var format = MediaSniffer.Sniff(encoded);
        if (!MediaSniffer.IsSupportedImage(format))
            throw new ModerationException(ErrorCodes.UnsupportedMedia, format == MediaFormat.Unknown
                ? "not a recognised image (supported: JPEG, PNG, GIF, WebP, BMP)"
                : $"{format} is not supported (supported: JPEG, PNG, GIF, WebP, BMP)");
        var declared = HeaderDimensions.Read(format, encoded);
        if (format == MediaFormat.Jpeg)
        {
            var jpeg = JpegStructure.Read(encoded);
            if (jpeg.Width > 0) declared = (jpeg.Width, jpeg.Height);
            if (declared is { } d) CheckSize(d.Width, d.Height, limits);
            if (jpeg.Scans > limits.MaxJpegScans)
                throw new ModerationException(ErrorCodes.MediaTooLarge, $"JPEG with more than {limits.MaxJpegScans} scans");
            if (!jpeg.Complete) throw new ModerationException(ErrorCodes.UndecodableMedia, "JPEG data is truncated or corrupt (no end of image after its scans)");
            // A file cut short and closed with EOI decodes "successfully" with invented blocks: walk the scans' data.
            JpegEntropy.Verify(encoded);
        }
        else if (declared is { } d)
        {
            CheckSize(d.Width, d.Height, limits);
        }

        using var data = SKData.CreateCopy(encoded);
        using var stream = new SKMemoryStream(data);
        using var codec = SKCodec.Create(stream, out var createResult);
        // The bytes claim a supported format but the decoder cannot read even the header.
        if (codec is null)
            throw new ModerationException(ErrorCodes.UndecodableMedia, $"{format} header is truncated or corrupt ({createResult})");
        if (!Matches(format, codec.EncodedFormat))
            throw new ModerationException(ErrorCodes.UndecodableMedia, $"{format} data decodes as {codec.EncodedFormat}");

        int width = codec.Info.Width, height = codec.Info.Height;
        if (width <= 0 || height <= 0)
            throw new ModerationException(ErrorCodes.UndecodableMedia, $"invalid dimensions {width}x{height}");
        CheckSize(width, height, limits);
        int denominator = JpegScale.Choose(codec, limits.JpegScaleMinSide, ref width, ref height);

        bool grey = codec.Info.ColorType == SKColorType.Gray8;
        var target = new SKImageInfo(width, height, grey ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Unpremul, null);
        var raw = new byte[(long)target.RowBytes * height];
        SKCodecResult result;
        unsafe
        {
            // Frame 0 only: the worker decodes animations frame by frame with AnimatedImageDecoder.
            fixed (byte* p = raw) result = codec.GetPixels(target, (IntPtr)p, new SKCodecOptions(0));
        }
        // Truncated or corrupt data is refused rather than screened half-decoded (missing rows come back zeroed).
        if (result != SKCodecResult.Success)
            throw new ModerationException(ErrorCodes.UndecodableMedia, $"image data is truncated or corrupt ({result})");

        // The recorded orientation is applied after any DCT scaling (the scale chosen does not depend on it).
        var origin = codec.EncodedOrigin;
        if (format == MediaFormat.Png && origin == SKEncodedOrigin.TopLeft) origin = Orientation.PngOrigin(encoded);
        // Browsers (Chromium, Firefox) show a WebP's pixels as stored whatever its EXIF chunk says: so does the worker.
        if (format == MediaFormat.Webp) origin = SKEncodedOrigin.TopLeft;
        if (!Enum.IsDefined(origin)) origin = SKEncodedOrigin.TopLeft;
        bool turn = orientation == ImageOrientation.Upright && origin != SKEncodedOrigin.TopLeft;
        int uprightWidth = turn && Orientation.SwapsSides(origin) ? height : width, uprightHeight = turn && Orientation.SwapsSides(origin) ? width : height;

        if (grey)
        {
            if (turn)
            {
                var upright = GC.AllocateUninitializedArray<byte>(raw.Length); // Apply writes every pixel
                Orientation.Apply(raw, width, height, origin, upright);
                raw = upright;
            }
            return new DecodedImage(uprightWidth, uprightHeight, 1, raw) { ScaleDenominator = denominator, StoredOrientation = (int)origin };
        }
        return UprightRgb(raw, width, height, turn ? origin : SKEncodedOrigin.TopLeft, denominator, (int)origin);
    }

    /// <summary>Stored RGBA pixels as RGB (alpha dropped, not blended) turned by <paramref name="turnBy"/> in the same
    /// pass (sides swapped for origins 5–8); <see cref="SKEncodedOrigin.TopLeft"/> keeps them as stored.</summary>
    internal static DecodedImage UprightRgb(ReadOnlySpan<byte> rgba, int width, int height, SKEncodedOrigin turnBy, int scaleDenominator = 1, int storedOrientation = 1)
    {
        var rgb = GC.AllocateUninitializedArray<byte>(checked(width * height * 3)); // both write every byte
        if (turnBy == SKEncodedOrigin.TopLeft) DropAlpha(rgba, rgb);
        else Orientation.ApplyDroppingAlpha(rgba, width, height, turnBy, rgb);
        bool swap = Orientation.SwapsSides(turnBy);
        return new DecodedImage(swap ? height : width, swap ? width : height, 3, rgb) { ScaleDenominator = scaleDenominator, StoredOrientation = storedOrientation };
    }

    /// <summary>RGBA → RGB (alpha dropped, not blended): four pixels per 16-byte shuffle where the vector unit
    /// has one, written 16 bytes at a time with the last 4 overwritten by the next step; the tail pixel by pixel.</summary>
    internal static void DropAlpha(ReadOnlySpan<byte> rgba, Span<byte> rgb)
    {
        int pixels = rgb.Length / 3;
        if (rgba.Length < pixels * 4) throw new ArgumentException($"{rgba.Length} RGBA bytes for {pixels} pixels", nameof(rgba));
        int s = 0, d = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            var order = Vector128.Create((byte)0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 0x80, 0x80, 0x80, 0x80);
            ref byte source = ref MemoryMarshal.GetReference(rgba);
            ref byte target = ref MemoryMarshal.GetReference(rgb);
            for (; d + 16 <= rgb.Length; s += 16, d += 12)
                Vector128.Shuffle(Vector128.LoadUnsafe(ref source, (nuint)s), order).StoreUnsafe(ref target, (nuint)d);
        }
        for (; d < pixels * 3; s += 4, d += 3)
        {
            rgb[d] = rgba[s];
            rgb[d + 1] = rgba[s + 1];
            rgb[d + 2] = rgba[s + 2];
        }
    }

    /// <summary>The pixel limits (<c>media-too-large</c>), for <see cref="PdqDecoder"/> too.</summary>
    internal static void CheckSize(long width, long height, DecodeLimits limits)
    {
        if (width > limits.MaxSide || height > limits.MaxSide || width * height > limits.MaxPixels)
            throw new ModerationException(ErrorCodes.MediaTooLarge,
                $"{width}x{height} exceeds the pixel limits ({limits.MaxPixels} pixels, {limits.MaxSide} per side)");
    }

    private static bool Matches(MediaFormat sniffed, SKEncodedImageFormat decoded) => (sniffed, decoded) switch
    {
        (MediaFormat.Jpeg, SKEncodedImageFormat.Jpeg) => true,
        (MediaFormat.Png, SKEncodedImageFormat.Png) => true,
        (MediaFormat.Gif, SKEncodedImageFormat.Gif) => true,
        (MediaFormat.Webp, SKEncodedImageFormat.Webp) => true,
        (MediaFormat.Bmp, SKEncodedImageFormat.Bmp) => true,
        _ => false,
    };
}
