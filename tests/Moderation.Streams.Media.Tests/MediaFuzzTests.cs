using CsCheck;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media;

namespace Moderation.Streams.Media.Tests;

/// <summary>
/// Property tests over the decoder at a small budget (a few seconds): random bytes and mutations of every
/// good corpus file either decode to a consistent image or fail with one of the decoder's contract codes.
/// Nothing else may escape, and nothing may crash the process.
/// </summary>
public class MediaFuzzTests
{
    private static readonly string[] DecoderCodes = [ErrorCodes.UnsupportedMedia, ErrorCodes.UndecodableMedia, ErrorCodes.MediaTooLarge];

    private static readonly byte[][] Seeds = MediaCorpusTests.Manifest()
        .Where(m => m.Expected == MediaCorpusTests.Ok)
        .Select(m => File.ReadAllBytes(Path.Combine(MediaCorpusTests.CorpusDirectory, m.File)))
        .Append(SampleImages.Jpeg(1, 64, 48)).Append(SampleImages.Png(2, 64, 48))
        .Append(SampleImages.Encode(SampleImages.Render(3, 40, 30), SkiaSharp.SKEncodedImageFormat.Webp))
        .ToArray();

    /// <summary>Small limits so that mutated headers that claim big images are refused cheaply and the budget goes to variety.</summary>
    private static readonly DecodeLimits Limits = new() { MaxPixels = 1_000_000, MaxSide = 4096 };

    private static void DecodesOrRefusesWithAContractCode(byte[] bytes)
    {
        try
        {
            var image = ImageDecoder.Decode(bytes, Limits);
            Assert.Equal((long)image.Width * image.Height * image.Channels, image.Pixels.Length);
        }
        catch (ModerationException e)
        {
            Assert.Contains(e.Code, DecoderCodes);
        }
    }

    /// <summary>A seed file with 1-8 mutations: byte flips, extreme 32-bit values (lengths, dimensions), truncation,
    /// duplicated or deleted ranges, random insertions.</summary>
    private static readonly Gen<(int Seed, ulong Mutation)> Mutations = Gen.Select(Gen.Int[0, Seeds.Length - 1], Gen.ULong);

    private static byte[] Mutate(int seed, ulong mutation)
    {
        var random = new Random((int)mutation ^ (int)(mutation >> 32));
        var bytes = new List<byte>(Seeds[seed]);
        int count = 1 + random.Next(8);
        for (int m = 0; m < count && bytes.Count > 0; m++)
        {
            int at = random.Next(bytes.Count);
            switch (random.Next(6))
            {
                case 0: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 1: bytes[at] = (byte)random.Next(256); break;
                case 2:
                    uint extreme = new uint[] { 0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 0x8000, 0xFFFF, 65500 }[random.Next(7)];
                    for (int k = 0; k < 4 && at + k < bytes.Count; k++) bytes[at + k] = (byte)(extreme >> (8 * (3 - k)));
                    break;
                case 3: bytes.RemoveRange(at, bytes.Count - at); break;
                case 4:
                    int length = Math.Min(random.Next(1, 64), bytes.Count - at);
                    if (random.Next(2) == 0) bytes.InsertRange(at, bytes.GetRange(at, length));
                    else bytes.RemoveRange(at, length);
                    break;
                default:
                    var junk = new byte[random.Next(1, 32)];
                    random.NextBytes(junk);
                    bytes.InsertRange(at, junk);
                    break;
            }
        }
        return bytes.ToArray();
    }

    [Fact]
    public void Mutated_images_decode_or_fail_with_a_decoder_code() =>
        Mutations.Sample((seed, mutation) => DecodesOrRefusesWithAContractCode(Mutate(seed, mutation)), iter: 4000);

    [Fact]
    public void Random_bytes_behind_every_magic_number_fail_with_a_decoder_code()
    {
        byte[][] magics = [[0xFF, 0xD8, 0xFF], [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "GIF89a"u8.ToArray(), "RIFF\0\0\0\0WEBP"u8.ToArray(), [0x42, 0x4D], []];
        Gen.Select(Gen.Int[0, magics.Length - 1], Gen.Byte.Array[0, 600])
            .Sample((magic, tail) => DecodesOrRefusesWithAContractCode([.. magics[magic], .. tail]), iter: 3000);
    }

    [Fact]
    public void Sniffing_and_the_jpeg_walk_never_throw_on_any_bytes() =>
        Gen.Byte.Array[0, 300].Sample(bytes =>
        {
            MediaSniffer.Sniff(bytes);
            JpegStructure.Read(bytes);
        }, iter: 10_000);
}
