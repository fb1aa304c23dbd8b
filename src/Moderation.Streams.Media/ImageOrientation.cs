using System.Buffers.Binary;
using SkiaSharp;

namespace Moderation.Streams.Media;

/// <summary>Which pixels <see cref="ImageDecoder"/> returns for a file that records an orientation (EXIF tag 0x0112).</summary>
public enum ImageOrientation
{
    /// <summary>The picture a viewer shows: the recorded orientation applied (rotation and/or mirroring, all 8 of
    /// them). What the worker hashes, matches against banks, caches and classifies.</summary>
    Upright,

    /// <summary>The pixels as stored, orientation ignored: Meta's reference PDQ hasher reads files this way, so the
    /// <c>hash</c> verb (and so <c>bank import</c> of its output) stays comparable with reference hashes.</summary>
    AsStored,
}

/// <summary>
/// Turns stored pixels upright. SkiaSharp reports a JPEG's or WebP's EXIF orientation as
/// <see cref="SKCodec.EncodedOrigin"/> but never applies it, and ignores a PNG's <c>eXIf</c> chunk, which browsers
/// honour: that one is read here (<see cref="PngOrigin"/>). A WebP's EXIF orientation is not applied: Chromium and
/// Firefox show WebP pixels as stored (<see cref="ImageDecoder"/>).
/// </summary>
internal static class Orientation
{
    /// <summary>True when <paramref name="origin"/> turns the picture by 90° (its sides swap).</summary>
    public static bool SwapsSides(SKEncodedOrigin origin) => origin >= SKEncodedOrigin.LeftTop;

    /// <summary>
    /// Writes the <paramref name="width"/> × <paramref name="height"/> stored grey pixels upright into
    /// <paramref name="upright"/> (sides swapped for origins 5–8).
    /// </summary>
    public static void Apply(ReadOnlySpan<byte> stored, int width, int height, SKEncodedOrigin origin, Span<byte> upright)
    {
        if (stored.Length < width * height || upright.Length < width * height)
            throw new ArgumentException($"{stored.Length} and {upright.Length} pixels for {width}x{height}");
        var (start, stepX, stepY) = Steps(width, height, origin);
        for (int y = 0; y < height; y++)
        {
            var row = stored.Slice(y * width, width);
            int d = start + y * stepY;
            if (stepX == 1)
            {
                row.CopyTo(upright.Slice(d, width));
                continue;
            }
            for (int x = 0; x < row.Length; x++, d += stepX) upright[d] = row[x];
        }
    }

    /// <summary>Stored RGBA pixels written upright as RGB (alpha dropped, not blended) in one pass, so that turning
    /// a picture costs no buffer beyond the RGB one the decoder makes anyway.</summary>
    public static void ApplyDroppingAlpha(ReadOnlySpan<byte> rgba, int width, int height, SKEncodedOrigin origin, Span<byte> rgb)
    {
        if (rgba.Length < width * height * 4 || rgb.Length < width * height * 3)
            throw new ArgumentException($"{rgba.Length} RGBA and {rgb.Length} RGB bytes for {width}x{height}");
        var (start, stepX, stepY) = Steps(width, height, origin);
        for (int y = 0, s = 0; y < height; y++)
        {
            for (int x = 0, d = (start + y * stepY) * 3; x < width; x++, s += 4, d += stepX * 3)
            {
                rgb[d] = rgba[s];
                rgb[d + 1] = rgba[s + 1];
                rgb[d + 2] = rgba[s + 2];
            }
        }
    }

    /// <summary>
    /// Where the stored pixel (x, y) lands: start + x * stepX + y * stepY, in pixels of the upright picture. EXIF's
    /// names say where the stored first row and column are shown: RightTop (6) shows the first row on the right and
    /// the first column at the top, i.e. a 90° clockwise turn.
    /// </summary>
    private static (int Start, int StepX, int StepY) Steps(int width, int height, SKEncodedOrigin origin)
    {
        int w = SwapsSides(origin) ? height : width, h = SwapsSides(origin) ? width : height;
        return origin switch
        {
            SKEncodedOrigin.TopRight => (w - 1, -1, w),
            SKEncodedOrigin.BottomRight => (h * w - 1, -1, -w),
            SKEncodedOrigin.BottomLeft => ((h - 1) * w, 1, -w),
            SKEncodedOrigin.LeftTop => (0, w, 1),
            SKEncodedOrigin.RightTop => (w - 1, w, -1),
            SKEncodedOrigin.RightBottom => (h * w - 1, -w, -1),
            SKEncodedOrigin.LeftBottom => ((h - 1) * w, -w, 1),
            _ => (0, 1, w),
        };
    }

    /// <summary>The orientation in a PNG's <c>eXIf</c> chunk before its image data (where libpng-based viewers read
    /// it), <see cref="SKEncodedOrigin.TopLeft"/> when there is none or it is not one of 1–8. A chunk whose CRC is wrong
    /// is skipped, as libpng (and so Chromium) drops such an ancillary chunk: its orientation is never shown.</summary>
    public static SKEncodedOrigin PngOrigin(ReadOnlySpan<byte> png)
    {
        for (int i = 8; i + 12 <= png.Length;)
        {
            uint length = BinaryPrimitives.ReadUInt32BigEndian(png[i..]);
            var type = png.Slice(i + 4, 4);
            if (type.SequenceEqual("IDAT"u8) || type.SequenceEqual("IEND"u8) || length > (uint)(png.Length - i - 12)) break;
            if (type.SequenceEqual("eXIf"u8)
                && Crc32(png.Slice(i + 4, 4 + (int)length)) == BinaryPrimitives.ReadUInt32BigEndian(png[(i + 8 + (int)length)..]))
                return TiffOrigin(png.Slice(i + 8, (int)length));
            i += 12 + (int)length;
        }
        return SKEncodedOrigin.TopLeft;
    }

    private static readonly uint[] CrcTable = BuildCrcTable();

    private static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }

    /// <summary>PNG's CRC-32 (ISO 3309, as zlib's <c>crc32</c>) of a chunk's type and data.</summary>
    private static uint Crc32(ReadOnlySpan<byte> bytes)
    {
        uint c = 0xFFFFFFFFu;
        foreach (byte b in bytes) c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }

    /// <summary>Tag 0x0112 (SHORT, count 1) of IFD0 of a TIFF structure (EXIF), either byte order.</summary>
    internal static SKEncodedOrigin TiffOrigin(ReadOnlySpan<byte> tiff)
    {
        if (tiff.Length < 8) return SKEncodedOrigin.TopLeft;
        bool little = tiff[0] == (byte)'I' && tiff[1] == (byte)'I';
        if (!little && !(tiff[0] == (byte)'M' && tiff[1] == (byte)'M')) return SKEncodedOrigin.TopLeft;
        if (U16(tiff, 2, little) != 42) return SKEncodedOrigin.TopLeft;
        uint ifd = little ? BinaryPrimitives.ReadUInt32LittleEndian(tiff[4..]) : BinaryPrimitives.ReadUInt32BigEndian(tiff[4..]);
        if (ifd > (uint)tiff.Length - 2) return SKEncodedOrigin.TopLeft;
        uint entries = U16(tiff, (int)ifd, little);
        for (uint e = 0; e < entries; e++)
        {
            long at = ifd + 2 + e * 12L;
            if (at + 12 > tiff.Length) break;
            if (U16(tiff, (int)at, little) != 0x0112 || U16(tiff, (int)at + 2, little) != 3) continue; // Orientation, SHORT
            // One value, as Skia's EXIF reader (JPEG, WebP) and Chromium want: any other count is ignored there.
            uint count = little ? BinaryPrimitives.ReadUInt32LittleEndian(tiff[((int)at + 4)..]) : BinaryPrimitives.ReadUInt32BigEndian(tiff[((int)at + 4)..]);
            if (count != 1) continue;
            uint value = U16(tiff, (int)at + 8, little);
            return value is >= 1 and <= 8 ? (SKEncodedOrigin)value : SKEncodedOrigin.TopLeft;
        }
        return SKEncodedOrigin.TopLeft;
    }

    private static uint U16(ReadOnlySpan<byte> b, int at, bool little) =>
        little ? BinaryPrimitives.ReadUInt16LittleEndian(b[at..]) : BinaryPrimitives.ReadUInt16BigEndian(b[at..]);
}
