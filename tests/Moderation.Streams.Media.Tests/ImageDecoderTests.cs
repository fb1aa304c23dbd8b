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

    private static void WriteBigEndian(byte[] b, int at, int v)
    {
        b[at] = (byte)(v >> 24); b[at + 1] = (byte)(v >> 16); b[at + 2] = (byte)(v >> 8); b[at + 3] = (byte)v;
    }

    private static uint Crc32(ReadOnlySpan<byte> data) => System.IO.Hashing.Crc32.HashToUInt32(data);
}
