using SkiaSharp;

namespace Moderation.Streams.Media.Tests.Adversarial;

/// <summary>
/// Still-image evasions at the decoder: a picture stored turned or mirrored with an EXIF orientation (every viewer
/// shows it upright) decodes upright, in all 8 orientations and in JPEG, WebP and PNG; the reference hasher's
/// reading (stored pixels) stays available.
/// </summary>
public class StillImageEvasionTests
{
    private static SKBitmap ToBitmap(DecodedImage image)
    {
        var bitmap = new SKBitmap(new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        var rgb = image.ToRgb();
        var rgba = new byte[image.Width * image.Height * 4];
        for (int p = 0; p < image.Width * image.Height; p++)
        {
            rgba[p * 4] = rgb[p * 3];
            rgba[p * 4 + 1] = rgb[p * 3 + 1];
            rgba[p * 4 + 2] = rgb[p * 3 + 2];
            rgba[p * 4 + 3] = 255;
        }
        System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        return bitmap;
    }

    private static byte[] Rgb(SKBitmap bitmap)
    {
        var rgb = new byte[bitmap.Width * bitmap.Height * 3];
        for (int y = 0, i = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++, i += 3)
            {
                var c = bitmap.GetPixel(x, y);
                (rgb[i], rgb[i + 1], rgb[i + 2]) = (c.Red, c.Green, c.Blue);
            }
        return rgb;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void A_jpeg_decodes_upright_in_every_exif_orientation_exactly_as_skia_would_draw_it(int orientation)
    {
        using var upright = SampleImages.Render(8100 + orientation, 64, 48);
        using var stored = StillImageEvasions.Stored(upright, orientation);
        var jpeg = StillImageEvasions.WithJpegOrientation(SampleImages.Encode(stored, SKEncodedImageFormat.Jpeg, 95), orientation);

        var asStored = ImageDecoder.Decode(jpeg, orientation: ImageOrientation.AsStored);
        var shown = ImageDecoder.Decode(jpeg);

        Assert.Equal((stored.Width, stored.Height), (asStored.Width, asStored.Height));
        Assert.Equal((64, 48, orientation), (shown.Width, shown.Height, shown.StoredOrientation));
        // The decoder's index arithmetic against Skia's matrices applied to the stored pixels: bit for bit.
        using var asStoredBitmap = ToBitmap(asStored);
        using var expected = StillImageEvasions.Shown(asStoredBitmap, orientation);
        Assert.Equal(Rgb(expected), shown.Pixels);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(8)]
    public void A_greyscale_jpeg_is_turned_upright_too(int orientation)
    {
        using var colour = SampleImages.Render(8200 + orientation, 40, 24);
        using var grey = new SKBitmap(new SKImageInfo(40, 24, SKColorType.Gray8, SKAlphaType.Opaque));
        var luma = new byte[40 * 24];
        for (int i = 0; i < luma.Length; i++) luma[i] = colour.GetPixel(i % 40, i / 40).Green;
        System.Runtime.InteropServices.Marshal.Copy(luma, 0, grey.GetPixels(), luma.Length);
        using var stored = StillImageEvasions.Stored(grey, orientation);
        var jpeg = StillImageEvasions.WithJpegOrientation(SampleImages.Encode(stored, SKEncodedImageFormat.Jpeg, 95), orientation);

        var shown = ImageDecoder.Decode(jpeg);
        var asStored = ImageDecoder.Decode(jpeg, orientation: ImageOrientation.AsStored);

        Assert.Equal((40, 24, 1), (shown.Width, shown.Height, shown.Channels));
        using var asStoredBitmap = ToBitmap(asStored);
        using var expected = StillImageEvasions.Shown(asStoredBitmap, orientation);
        Assert.Equal(Rgb(expected), shown.ToRgb());
    }

    [Theory]
    [InlineData(6)]
    [InlineData(7)]
    public void A_webp_with_an_exif_orientation_decodes_as_browsers_show_it_unturned(int orientation)
    {
        // Chromium 156 and Firefox 153 both show a WebP's pixels as stored, whatever its EXIF chunk says (measured with
        // this very file layout: VP8X with the EXIF flag, the chunk after the image data; also before it, and without
        // the flag); the upright view is therefore the stored one. (Turning it, as an earlier version did, made the
        // classifier score a picture browsers do not show.)
        using var picture = SampleImages.Render(8300 + orientation, 64, 48);
        using var stored = StillImageEvasions.Stored(picture, orientation);
        var lossless = StillImageEvasions.WithWebpOrientation(SampleImages.Encode(stored, SKEncodedImageFormat.Webp, 100), orientation, stored.Width, stored.Height);

        var shown = ImageDecoder.Decode(lossless);

        Assert.Equal((stored.Width, stored.Height, 1), (shown.Width, shown.Height, shown.StoredOrientation));
        Assert.Equal(Rgb(stored), shown.Pixels); // lossless: exactly the pixels browsers show
    }

    [Theory]
    [InlineData(3)]
    [InlineData(6)]
    [InlineData(7)]
    public void A_png_exif_chunk_orientation_is_applied_although_skia_ignores_it(int orientation)
    {
        using var upright = SampleImages.Render(8400 + orientation, 64, 48);
        using var stored = StillImageEvasions.Stored(upright, orientation);
        var png = StillImageEvasions.WithPngOrientation(SampleImages.Encode(stored), orientation);
        using (var codec = SKCodec.Create(SKData.CreateCopy(png))) Assert.Equal(SKEncodedOrigin.TopLeft, codec.EncodedOrigin);

        var shown = ImageDecoder.Decode(png);

        Assert.Equal((64, 48, orientation), (shown.Width, shown.Height, shown.StoredOrientation));
        Assert.Equal(Rgb(upright), shown.Pixels);
        Assert.Equal(Rgb(stored), ImageDecoder.Decode(png, orientation: ImageOrientation.AsStored).Pixels);
    }

    [Fact]
    public void A_png_exif_chunk_after_the_image_data_is_not_applied_as_libpng_viewers_do_not_read_it_there()
    {
        using var picture = SampleImages.Render(8501, 32, 20);
        var png = SampleImages.Encode(picture);
        int iend = png.Length - 12;
        var withExifFirst = StillImageEvasions.WithPngOrientation(png, 6);
        var chunk = withExifFirst.AsSpan(33, withExifFirst.Length - png.Length).ToArray();
        byte[] late = [.. png.AsSpan(0, iend), .. chunk, .. png.AsSpan(iend)];

        var image = ImageDecoder.Decode(late);

        Assert.Equal((32, 20, 1), (image.Width, image.Height, image.StoredOrientation));
        Assert.Equal(Rgb(picture), image.Pixels);
    }

    [Fact]
    public void A_large_rotated_jpeg_is_scaled_by_dct_and_then_turned_upright()
    {
        using var upright = SampleImages.Render(8601, 1200, 1040);
        using var stored = StillImageEvasions.Stored(upright, 6);
        var jpeg = StillImageEvasions.WithJpegOrientation(SampleImages.Encode(stored, SKEncodedImageFormat.Jpeg, 90), 6);
        var worker = new DecodeLimits { JpegScaleMinSide = DecodeLimits.ScaledJpegMinSide };

        var shown = ImageDecoder.Decode(jpeg, worker);
        var scaledAsStored = ImageDecoder.Decode(jpeg, worker, ImageOrientation.AsStored);

        Assert.Equal((2, 600, 520), (shown.ScaleDenominator, shown.Width, shown.Height));
        Assert.Equal((520, 600), (scaledAsStored.Width, scaledAsStored.Height));
        using var asStoredBitmap = ToBitmap(scaledAsStored);
        using var expected = StillImageEvasions.Shown(asStoredBitmap, 6);
        Assert.Equal(Rgb(expected), shown.Pixels);
    }

    [Fact]
    public void Exif_orientation_values_outside_one_to_eight_leave_the_pixels_as_stored()
    {
        using var picture = SampleImages.Render(8701, 30, 20);
        foreach (int value in new[] { 0, 9, 255 })
        {
            var png = StillImageEvasions.WithPngOrientation(SampleImages.Encode(picture), value);
            var image = ImageDecoder.Decode(png);
            Assert.Equal((30, 20, 1), (image.Width, image.Height, image.StoredOrientation));
        }
    }
}
