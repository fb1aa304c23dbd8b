using Moderation.Streams.Media;
using SkiaSharp;

namespace Moderation.Streams.Inference.Tests;

/// <summary>
/// The worker decodes large JPEGs at reduced scale (<see cref="DecodeLimits.JpegScaleMinSide"/> 512). The model
/// then resizes a smoothed ≥512-pixel picture instead of the full one; its scores must barely move. Each parity
/// image, enlarged to 2048x1536 and saved as JPEG, is scored from a full decode and from the worker's decode.
/// </summary>
public sealed class ScaledDecodeScoresTests(ClassifierFixture fixture, ITestOutputHelper output) : IClassFixture<ClassifierFixture>
{
    [Fact]
    public void Scores_from_a_scaled_decode_stay_close_to_the_full_decode()
    {
        var scaled = new MediaOptions().Decode;
        double worst = 0;
        int sameTop = 0;
        foreach (var reference in TestData.Reference)
        {
            using var source = SKBitmap.Decode(Path.Combine(TestData.DataDirectory, "images", reference.File));
            using var large = source.Resize(new SKImageInfo(2048, 1536, SKColorType.Rgba8888, SKAlphaType.Unpremul), new SKSamplingOptions(SKCubicResampler.Mitchell));
            var jpeg = SampleImages.Encode(large, SKEncodedImageFormat.Jpeg, 92);

            var full = ImageDecoder.Decode(jpeg);
            var reduced = ImageDecoder.Decode(jpeg, scaled);
            Assert.Equal((1, 2), (full.ScaleDenominator, reduced.ScaleDenominator));
            var scores = fixture.Classifier.Classify([full, reduced]);

            double delta = scores[0].Values.Zip(scores[1].Values, (a, b) => Math.Abs(a - b)).Max();
            worst = Math.Max(worst, delta);
            if (scores[0].TopLabel == scores[1].TopLabel) sameTop++;
            output.WriteLine($"{reference.File}: max |Δ| {delta:0.0000}, top {scores[0].TopLabel} / {scores[1].TopLabel}");
        }
        output.WriteLine($"worst max |Δ| {worst:0.0000}; same top label {sameTop}/{TestData.Reference.Count}");
        Assert.True(worst < 0.05, $"a score moved by {worst:0.0000}");
        Assert.Equal(TestData.Reference.Count, sameTop);
    }
}
