using System.Buffers.Binary;

namespace Moderation.Streams.Media.Tests.Adversarial;

/// <summary>
/// The worker's upright view must be the one browsers show. Checked against headless Chromium 156 (canvas
/// <c>drawImage</c> of each file, orientation from-image): a PNG <c>eXIf</c> chunk whose CRC is wrong, or whose
/// Orientation entry has a count other than 1, is ignored there (libpng drops an ancillary chunk with a bad CRC; the
/// JPEG/WebP reader in Skia wants a count of 1 too). Turning such a picture anyway shows the bank and the classifier
/// a picture nobody sees: with <c>Banks:Dihedral</c> off, a banked picture sent this way was not matched.
/// </summary>
public class OrientationReviewTests
{
    private const int ExifChunk = 8 + 8 + 13 + 4; // where WithPngOrientation puts the eXIf chunk (after IHDR)

    private static byte[] TurnedPng() => StillImageEvasions.WithPngOrientation(SampleImages.Png(4711, 64, 32), 6);

    [Fact]
    public void A_png_exif_orientation_is_applied_when_its_chunk_is_sound()
    {
        var image = ImageDecoder.Decode(TurnedPng());
        Assert.Equal((32, 64), (image.Width, image.Height));
    }

    [Fact]
    public void A_png_exif_chunk_with_a_wrong_crc_is_ignored_as_browsers_ignore_it()
    {
        var png = TurnedPng();
        int length = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(ExifChunk));
        png[ExifChunk + 8 + length] ^= 0x55; // the chunk's CRC

        var image = ImageDecoder.Decode(png);

        Assert.Equal((64, 32), (image.Width, image.Height));
        Assert.Equal(SampleImages.Png(4711, 64, 32) is var plain ? ImageDecoder.Decode(plain).Pixels : null, image.Pixels);
    }

    [Fact]
    public void An_orientation_entry_whose_count_is_not_one_is_ignored_as_browsers_ignore_it()
    {
        var png = TurnedPng();
        // IFD0's one entry: tag, type, count (big-endian u32 at TIFF offset 14), value.
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(ExifChunk + 8 + 14), 2);
        int length = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(ExifChunk));
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(ExifChunk + 8 + length), System.IO.Hashing.Crc32.HashToUInt32(png.AsSpan(ExifChunk + 4, 4 + length)));

        var image = ImageDecoder.Decode(png);

        Assert.Equal((64, 32), (image.Width, image.Height));
    }
}
