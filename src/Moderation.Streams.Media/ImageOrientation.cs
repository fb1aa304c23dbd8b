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
/// honour: that one is read here (<see cref="PngOrigin"/>).
/// </summary>
internal static class Orientation
{
    /// <summary>True when <paramref name="origin"/> turns the picture by 90° (its sides swap).</summary>
    public static bool SwapsSides(SKEncodedOrigin origin) => origin >= SKEncodedOrigin.LeftTop;

    /// <summary>
    /// Writes the <paramref name="width"/> × <paramref name="height"/> stored pixels upright into
    /// <paramref name="upright"/> (sides swapped for origins 5–8). <typeparamref name="T"/> is one pixel: a byte
    /// (grey) or a uint (RGBA). EXIF's names say where the stored first row and column are shown: RightTop (6) shows
    /// the first row on the right and the first column at the top, i.e. a 90° clockwise turn.
    /// </summary>
    public static void Apply<T>(ReadOnlySpan<T> stored, int width, int height, SKEncodedOrigin origin, Span<T> upright)
        where T : unmanaged
    {
        if (stored.Length < width * height || upright.Length < width * height)
            throw new ArgumentException($"{stored.Length} and {upright.Length} pixels for {width}x{height}");
        // Where the stored pixel (x, y) lands: start + x * stepX + y * stepY, in the upright picture of width W.
        int w = SwapsSides(origin) ? height : width, h = SwapsSides(origin) ? width : height;
        (int start, int stepX, int stepY) = origin switch
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

    /// <summary>The orientation in a PNG's <c>eXIf</c> chunk before its image data (where libpng-based viewers read
    /// it), <see cref="SKEncodedOrigin.TopLeft"/> when there is none or it is not one of 1–8.</summary>
    public static SKEncodedOrigin PngOrigin(ReadOnlySpan<byte> png)
    {
        for (int i = 8; i + 12 <= png.Length;)
        {
            uint length = BinaryPrimitives.ReadUInt32BigEndian(png[i..]);
            var type = png.Slice(i + 4, 4);
            if (type.SequenceEqual("IDAT"u8) || type.SequenceEqual("IEND"u8) || length > (uint)(png.Length - i - 12)) break;
            if (type.SequenceEqual("eXIf"u8)) return TiffOrigin(png.Slice(i + 8, (int)length));
            i += 12 + (int)length;
        }
        return SKEncodedOrigin.TopLeft;
    }

    /// <summary>Tag 0x0112 of IFD0 of a TIFF structure (EXIF), either byte order.</summary>
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
            uint value = U16(tiff, (int)at + 8, little);
            return value is >= 1 and <= 8 ? (SKEncodedOrigin)value : SKEncodedOrigin.TopLeft;
        }
        return SKEncodedOrigin.TopLeft;
    }

    private static uint U16(ReadOnlySpan<byte> b, int at, bool little) =>
        little ? BinaryPrimitives.ReadUInt16LittleEndian(b[at..]) : BinaryPrimitives.ReadUInt16BigEndian(b[at..]);
}
