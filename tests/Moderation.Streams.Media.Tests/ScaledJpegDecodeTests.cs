using Moderation.Streams.Contracts;
using Moderation.Streams.Media;

namespace Moderation.Streams.Media.Tests;

/// <summary>
/// <see cref="DecodeLimits.JpegScaleMinSide"/>: large JPEGs decoded at 1/2, 1/4 or 1/8 scale (libjpeg DCT
/// scaling) while both sides stay long enough; everything else, and every decode with the option at 0, in full.
/// </summary>
public sealed class ScaledJpegDecodeTests
{
    private static readonly DecodeLimits Scaled = new() { JpegScaleMinSide = DecodeLimits.ScaledJpegMinSide };

    [Theory]
    [InlineData(4096, 3072, 4, 1024, 768)] // 1/8 would be 512x384: too short
    [InlineData(2100, 1600, 2, 1050, 800)]
    [InlineData(4200, 4200, 8, 525, 525)]
    [InlineData(1000, 600, 1, 1000, 600)] // 1/2 would be 500x300
    [InlineData(640, 480, 1, 640, 480)]
    public void A_jpeg_is_decoded_at_the_smallest_scale_that_keeps_both_sides_long_enough(int width, int height, int denominator, int scaledWidth, int scaledHeight)
    {
        var image = ImageDecoder.Decode(SampleImages.Jpeg(1, width, height), Scaled);

        Assert.Equal((scaledWidth, scaledHeight, denominator), (image.Width, image.Height, image.ScaleDenominator));
    }

    [Fact]
    public void Off_by_default_and_never_for_other_formats()
    {
        var jpeg = SampleImages.Jpeg(2, 2048, 2048);

        var full = ImageDecoder.Decode(jpeg);
        var png = ImageDecoder.Decode(SampleImages.Png(2, 2048, 2048), Scaled);

        Assert.Equal((2048, 2048, 1), (full.Width, full.Height, full.ScaleDenominator));
        Assert.Equal((2048, 2048, 1), (png.Width, png.Height, png.ScaleDenominator));
        Assert.Equal(DecodeLimits.ScaledJpegMinSide, new MediaOptions().Decode.JpegScaleMinSide); // the worker's default
    }

    [Fact]
    public void Pixel_limits_apply_to_the_full_size_not_the_scaled_one()
    {
        var jpeg = SampleImages.Jpeg(3, 4096, 3072);

        var error = Assert.Throws<ModerationException>(() => ImageDecoder.Decode(jpeg, Scaled with { MaxPixels = 10_000_000 }));

        Assert.Equal(ErrorCodes.MediaTooLarge, error.Code);
        Assert.Contains("4096x3072", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_scaled_decode_is_the_full_picture_averaged_over_the_scale()
    {
        // DCT scaling is close to a box filter: each scaled pixel is near the mean of its 4x4 block in the full decode.
        var jpeg = SampleImages.Jpeg(4, 4096, 3072, quality: 95);
        var full = ImageDecoder.Decode(jpeg);
        var scaled = ImageDecoder.Decode(jpeg, Scaled);
        Assert.Equal(4, scaled.ScaleDenominator);

        double totalError = 0;
        for (int y = 0; y < scaled.Height; y++)
            for (int x = 0; x < scaled.Width; x++)
                for (int c = 0; c < 3; c++)
                {
                    int sum = 0;
                    for (int dy = 0; dy < 4; dy++)
                        for (int dx = 0; dx < 4; dx++)
                            sum += full.Pixels[((y * 4 + dy) * full.Width + x * 4 + dx) * 3 + c];
                    totalError += Math.Abs(sum / 16.0 - scaled.Pixels[(y * scaled.Width + x) * 3 + c]);
                }
        double meanError = totalError / (scaled.Width * scaled.Height * 3);
        Assert.True(meanError < 3, $"mean |scaled - 4x4 block mean| = {meanError:0.00} grey levels");
    }
}
