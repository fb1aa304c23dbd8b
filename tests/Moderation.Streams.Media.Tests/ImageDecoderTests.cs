using Moderation.Streams.Contracts;
using Moderation.Streams.Media;
using SkiaSharp;

namespace Moderation.Streams.Media.Tests;

public class ImageDecoderTests
{
    private static string CodeOf(byte[] data, DecodeLimits? limits = null) =>
        Assert.Throws<ModerationException>(() => ImageDecoder.Decode(data, limits)).Code;

    [Fact]
    public void Png_pixels_come_back_exactly()
    {
        using var bitmap = SampleImages.Render(3, 40, 30);
        var image = ImageDecoder.Decode(SampleImages.Encode(bitmap));
        Assert.Equal((40, 30, 3), (image.Width, image.Height, image.Channels));
        var expected = bitmap.GetPixel(17, 11);
        int i = (11 * 40 + 17) * 3;
        Assert.Equal((expected.Red, expected.Green, expected.Blue), (image.Pixels[i], image.Pixels[i + 1], image.Pixels[i + 2]));
    }

    [Fact]
    public void Dropping_alpha_keeps_every_pixels_rgb_in_order_for_every_length()
    {
        var random = new Random(7);
        foreach (int pixels in Enumerable.Range(0, 70).Concat([1000, 4097, 518_400]))
        {
            var rgba = new byte[pixels * 4];
            random.NextBytes(rgba);
            var rgb = new byte[pixels * 3];

            ImageDecoder.DropAlpha(rgba, rgb);

            for (int p = 0; p < pixels; p++)
                for (int c = 0; c < 3; c++)
                    if (rgb[p * 3 + c] != rgba[p * 4 + c])
                        Assert.Fail($"{pixels} pixels: pixel {p} channel {c} is {rgb[p * 3 + c]}, not {rgba[p * 4 + c]}");
        }
    }

    [Fact]
    public void Greyscale_images_decode_to_one_channel()
    {
        using var grey = new SKBitmap(new SKImageInfo(8, 8, SKColorType.Gray8, SKAlphaType.Opaque));
        grey.Erase(new SKColor(77, 77, 77));
        var image = ImageDecoder.Decode(SampleImages.Encode(grey));
        Assert.Equal(1, image.Channels);
        Assert.All(image.Pixels, p => Assert.Equal(77, p));
        Assert.All(image.ToRgb(), p => Assert.Equal(77, p));
    }

    [Fact]
    public void Jpeg_webp_gif_and_bmp_are_supported()
    {
        using var bitmap = SampleImages.Render(5, 64, 48);
        foreach (var format in new[] { SKEncodedImageFormat.Jpeg, SKEncodedImageFormat.Webp })
            Assert.Equal(64, ImageDecoder.Decode(SampleImages.Encode(bitmap, format)).Width);
        // A minimal 2x1 24-bit BMP.
        byte[] bmp = [0x42, 0x4D, 62, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 24, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 0, 0, 0, 0, 255, 0, 0];
        Assert.Equal((2, 1), (ImageDecoder.Decode(bmp).Width, ImageDecoder.Decode(bmp).Height));
        // A 1x1 GIF.
        byte[] gif = Convert.FromBase64String("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==");
        Assert.Equal(1, ImageDecoder.Decode(gif).Width);
    }

    [Fact]
    public void Garbage_is_unsupported_and_empty_input_undecodable()
    {
        Assert.Equal(ErrorCodes.UnsupportedMedia, CodeOf("definitely not an image"u8.ToArray()));
        Assert.Equal(ErrorCodes.UndecodableMedia, CodeOf([]));
    }

    [Fact]
    public void Truncated_images_are_undecodable_not_half_screened()
    {
        var jpeg = SampleImages.Jpeg(9, 320, 240);
        Assert.Equal(ErrorCodes.UndecodableMedia, CodeOf(jpeg[..(jpeg.Length / 2)]));
        var png = SampleImages.Png(9, 320, 240);
        Assert.Equal(ErrorCodes.UndecodableMedia, CodeOf(png[..(png.Length / 2)]));
    }

    [Fact]
    public void Pixel_bombs_are_refused_from_the_header_before_decoding()
    {
        // A PNG header claiming 60000 x 60000 pixels, with almost no data behind it.
        using var small = new SKBitmap(new SKImageInfo(1, 1));
        var png = SampleImages.Encode(small);
        var bomb = (byte[])png.Clone();
        WriteBigEndian(bomb, 16, 60000);
        WriteBigEndian(bomb, 20, 60000);
        // Fix the IHDR CRC so the header itself is valid.
        WriteBigEndian(bomb, 29, (int)Crc32(bomb.AsSpan(12, 17)));
        Assert.Equal(ErrorCodes.MediaTooLarge, CodeOf(bomb));
        Assert.Equal(ErrorCodes.MediaTooLarge, CodeOf(SampleImages.Png(1, 100, 100), new DecodeLimits { MaxPixels = 9_999 }));
        Assert.Equal(ErrorCodes.MediaTooLarge, CodeOf(SampleImages.Png(1, 100, 10), new DecodeLimits { MaxSide = 99 }));
        Assert.Equal(ErrorCodes.MediaTooLarge, CodeOf(new byte[2000], new DecodeLimits { MaxBytes = 1000 }));
    }

    private static byte[] Corpus(string name) => File.ReadAllBytes(Path.Combine(MediaCorpusTests.CorpusDirectory, name));

    [Fact]
    public void Sixteen_bit_png_decodes_to_its_high_bytes()
    {
        // corpus/make_corpus.py writes each 8-bit value c as the 16-bit sample c * 257.
        var image = ImageDecoder.Decode(Corpus("png-rgb16.png"));
        Assert.Equal((24, 16, 3), (image.Width, image.Height, image.Channels));
        int i = (3 * 24 + 5) * 3;
        Assert.Equal(new byte[] { 50, 45, 56 }, image.Pixels[i..(i + 3)]);
    }

    [Fact]
    public void Cmyk_greyscale_and_progressive_jpegs_decode()
    {
        Assert.Equal((32, 16, 3), Shape(ImageDecoder.Decode(Corpus("jpeg-cmyk-adobe.jpg"))));
        Assert.Equal((32, 16, 1), Shape(ImageDecoder.Decode(Corpus("jpeg-grey.jpg"))));
        var progressive = ImageDecoder.Decode(Corpus("jpeg-progressive.jpg"));
        Assert.True(progressive.Width > 0);
        Assert.Contains(progressive.Pixels, p => p != 0);
    }

    [Fact]
    public void An_animated_gif_is_screened_by_its_first_frame()
    {
        // Frame 1 has palette index 0 (black) at (0,0) and 1 (red) at (2,0); frame 2 inverts the indices.
        var image = ImageDecoder.Decode(Corpus("gif-animated.gif"));
        Assert.Equal(new byte[] { 0, 0, 0 }, image.Pixels[0..3]);
        Assert.Equal(new byte[] { 255, 0, 0 }, image.Pixels[6..9]);
    }

    [Fact]
    public void The_format_comes_from_the_bytes_not_the_name()
    {
        Assert.Equal(MediaFormat.Jpeg, MediaSniffer.Sniff(Corpus("jpeg-named-png.png")));
        Assert.Equal(MediaFormat.Html, MediaSniffer.Sniff(Corpus("html-named-jpg.jpg")));
        Assert.Equal(MediaFormat.Svg, MediaSniffer.Sniff(Corpus("svg-xxe.svg")));
        Assert.Equal(MediaFormat.Heif, MediaSniffer.Sniff(Corpus("heic-ftyp.heic")));
        Assert.Equal(MediaFormat.Unknown, MediaSniffer.Sniff(Corpus("wbmp-like.bin")));
        Assert.Equal(MediaFormat.Unknown, MediaSniffer.Sniff(Corpus("bm-text.txt")));
        Assert.Equal(ErrorCodes.UnsupportedMedia, CodeOf(Corpus("heic-ftyp.heic")));
    }

    [Fact]
    public void A_progressive_jpeg_cut_short_is_undecodable_although_the_decoder_reports_success()
    {
        var cut = Corpus("jpeg-progressive-cut-after-two-scans.jpg");
        using (var codec = SKCodec.Create(new SKMemoryStream(cut)))
        {
            var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
            using var bitmap = new SKBitmap(info);
            Assert.Equal(SKCodecResult.Success, codec.GetPixels(info, bitmap.GetPixels())); // why the structure walk exists
        }
        Assert.Equal(ErrorCodes.UndecodableMedia, CodeOf(cut));
    }

    [Fact]
    public void A_jpeg_with_more_scans_than_the_limit_is_refused_before_decoding()
    {
        Assert.Equal(ErrorCodes.MediaTooLarge, CodeOf(Corpus("jpeg-scan-bomb.jpg")));
        Assert.Equal(ErrorCodes.MediaTooLarge, CodeOf(Corpus("jpeg-progressive.jpg"), new DecodeLimits { MaxJpegScans = 2 }));
    }

    [Fact]
    public async Task A_decode_over_its_time_budget_answers_undecodable_media_and_the_next_one_proceeds()
    {
        var large = SampleImages.Jpeg(4, 3000, 2000);
        var e = await Assert.ThrowsAsync<ModerationException>(() => ImageDecoder.DecodeAsync(large, new DecodeLimits { TimeBudget = TimeSpan.Zero }, TestContext.Current.CancellationToken));
        Assert.Equal(ErrorCodes.UndecodableMedia, e.Code);
        Assert.Contains("budget", e.Message);
        var next = await ImageDecoder.DecodeAsync(SampleImages.Png(5, 40, 30), ct: TestContext.Current.CancellationToken);
        Assert.Equal(40, next.Width);
    }

    private static (int, int, int) Shape(DecodedImage image) => (image.Width, image.Height, image.Channels);

    private static void WriteBigEndian(byte[] b, int at, int v)
    {
        b[at] = (byte)(v >> 24); b[at + 1] = (byte)(v >> 16); b[at + 2] = (byte)(v >> 8); b[at + 3] = (byte)v;
    }

    private static uint Crc32(ReadOnlySpan<byte> data) => System.IO.Hashing.Crc32.HashToUInt32(data);
}
