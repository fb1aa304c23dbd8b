using Moderation.Streams.Media;

namespace Moderation.Streams.Inference.Tests;

public sealed class PreprocessorTests
{
    private const int S = 224;

    [Fact]
    public void Align_corners_maps_the_four_corner_pixels_exactly()
    {
        var image = RandomRgb(97, 131, seed: 1);

        var input = Preprocessor.ToNhwc(image, S);

        foreach (var (x, y, ox, oy) in new[] { (0, 0, 0, 0), (96, 0, S - 1, 0), (0, 130, 0, S - 1), (96, 130, S - 1, S - 1) })
            for (int c = 0; c < 3; c++)
                Assert.Equal(image.Pixels[(y * 97 + x) * 3 + c] / 255f, input[(oy * S + ox) * 3 + c]);
    }

    [Fact]
    public void An_image_already_of_the_input_size_is_only_normalised_not_resampled()
    {
        var image = RandomRgb(S, S, seed: 2);

        var input = Preprocessor.ToNhwc(image, S);

        Assert.Equal(image.Pixels.Select(v => v / 255f), input);
    }

    [Fact]
    public void Normalisation_is_a_float_division_by_255_not_a_multiplication_by_its_reciprocal()
    {
        // The two differ in the last bit for some values; nsfwjs divides.
        int v = Enumerable.Range(0, 256).First(i => i / 255f != i * (1f / 255f));
        var image = new DecodedImage(S, S, 3, Enumerable.Repeat((byte)v, S * S * 3).ToArray());

        var input = Preprocessor.ToNhwc(image, S);

        Assert.All(input, value => Assert.Equal(v / 255f, value));
    }

    [Fact]
    public void Greyscale_is_replicated_to_three_identical_channels()
    {
        var rgbOfGrey = RandomRgb(97, 131, seed: 3);
        var grey = new DecodedImage(97, 131, 1, rgbOfGrey.Pixels.Where((_, i) => i % 3 == 0).ToArray());
        var replicated = new DecodedImage(97, 131, 3, grey.ToRgb());

        var fromGrey = Preprocessor.ToNhwc(grey, S);

        Assert.Equal(Preprocessor.ToNhwc(replicated, S), fromGrey);
        for (int p = 0; p < S * S; p++)
        {
            Assert.Equal(fromGrey[p * 3], fromGrey[p * 3 + 1]);
            Assert.Equal(fromGrey[p * 3], fromGrey[p * 3 + 2]);
        }
    }

    [Fact]
    public void Aspect_ratio_is_not_kept_the_whole_image_is_stretched_onto_the_square()
    {
        // 300x200: left column red, right column blue, everything else black.
        var pixels = new byte[300 * 200 * 3];
        for (int y = 0; y < 200; y++)
        {
            pixels[(y * 300) * 3] = 255;
            pixels[(y * 300 + 299) * 3 + 2] = 255;
        }

        var input = Preprocessor.ToNhwc(new DecodedImage(300, 200, 3, pixels), S);

        for (int y = 0; y < S; y++)
        {
            Assert.Equal(1f, input[(y * S) * 3]);
            Assert.Equal(1f, input[(y * S + S - 1) * 3 + 2]);
        }
    }

    [Fact]
    public void A_single_pixel_fills_the_whole_input()
    {
        var input = Preprocessor.ToNhwc(new DecodedImage(1, 1, 3, [10, 20, 30]), S);

        for (int p = 0; p < S * S; p++)
            Assert.Equal([10 / 255f, 20 / 255f, 30 / 255f], input.AsSpan(p * 3, 3).ToArray());
    }

    [Fact]
    public void Halfway_samples_are_the_mean_of_their_neighbours_rounded_once_to_float()
    {
        // 3 columns onto 5: output columns 1 and 3 sit exactly between two source pixels.
        var input = Preprocessor.ToNhwc(new DecodedImage(3, 1, 1, [0, 1, 255]), 5);

        Assert.Equal((float)(1 / 255f * 0.5), input[1 * 3]);
        Assert.Equal((float)((double)(1 / 255f) + (1.0 - (double)(1 / 255f)) * 0.5), input[3 * 3]);
    }

    [Fact]
    public void The_vector_path_gives_the_scalar_paths_bits_for_every_shape()
    {
        Assert.SkipUnless(Preprocessor.VectorPathSupported, "this processor has no AVX2: only the scalar path runs here");
        // Down- and upscaling, odd sizes, one-pixel rows and columns, the real 640x480 -> 224/299 cases, and random ones.
        var shapes = new List<(int Width, int Height, int Size)>
        {
            (640, 480, 224), (640, 480, 299), (480, 640, 224), (1, 1, 224), (1, 7, 5), (7, 1, 5), (2, 2, 224),
            (223, 225, 224), (225, 223, 224), (3, 1, 5), (50, 30, 224), (4000, 3, 224), (3, 4000, 224), (97, 131, 1),
            (97, 131, 2),
        };
        var random = new Random(20261204);
        for (int i = 0; i < 40; i++) shapes.Add((random.Next(1, 900), random.Next(1, 900), random.Next(1, 320)));

        int seed = 10;
        foreach (var (width, height, size) in shapes)
        {
            var image = RandomRgb(width, height, seed++);
            var vector = new float[size * size * 3];
            var scalar = new float[size * size * 3];

            Preprocessor.Write(image, size, vector);
            Preprocessor.WriteScalar(image, size, scalar);

            for (int k = 0; k < scalar.Length; k++)
                if (BitConverter.SingleToInt32Bits(vector[k]) != BitConverter.SingleToInt32Bits(scalar[k]))
                    Assert.Fail($"{width}x{height} -> {size}: element {k} is {vector[k]:R} on the vector path, {scalar[k]:R} on the scalar one");
        }
    }

    private static DecodedImage RandomRgb(int width, int height, int seed)
    {
        var pixels = new byte[width * height * 3];
        new Random(seed).NextBytes(pixels);
        return new DecodedImage(width, height, 3, pixels);
    }
}
