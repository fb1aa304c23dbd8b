using System.Buffers.Binary;
using SkiaSharp;

namespace Moderation.Streams.Media.Tests.Adversarial;

/// <summary>
/// Generators of still-image evasions found by the adversarial probe: a picture stored rotated or mirrored with an
/// EXIF orientation that makes every viewer show it upright, and a JPEG cut short with an end-of-image marker
/// appended. Used by the decoder's tests here and the worker's end-to-end tests (linked into that project).
/// </summary>
public static class StillImageEvasions
{
    /// <summary>
    /// The pixels a file with EXIF <paramref name="orientation"/> must store so that a viewer shows
    /// <paramref name="upright"/>: the inverse of the viewer's transform, drawn with Skia's own matrices.
    /// </summary>
    public static SKBitmap Stored(SKBitmap upright, int orientation) => Transform(upright, orientation, inverse: true);

    /// <summary>What a viewer shows for <paramref name="stored"/> pixels tagged with <paramref name="orientation"/>
    /// (EXIF 2.32, tag 0x0112): 2 mirror left-right, 3 rotate 180°, 4 mirror top-bottom, 5 transpose, 6 rotate 90°
    /// clockwise, 7 transverse, 8 rotate 90° counter-clockwise.</summary>
    public static SKBitmap Shown(SKBitmap stored, int orientation) => Transform(stored, orientation, inverse: false);

    private static SKBitmap Transform(SKBitmap source, int orientation, bool inverse)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(orientation, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(orientation, 8);
        int w = source.Width, h = source.Height;
        bool swaps = orientation >= 5;
        var target = new SKBitmap(new SKImageInfo(swaps ? h : w, swaps ? w : h, source.ColorType, source.AlphaType));
        using var canvas = new SKCanvas(target);
        // Each matrix maps the source picture onto the target; rotations are exact with nearest sampling.
        var m = orientation switch
        {
            1 => SKMatrix.Identity,
            2 => new SKMatrix(-1, 0, w, 0, 1, 0, 0, 0, 1),
            3 => new SKMatrix(-1, 0, w, 0, -1, h, 0, 0, 1),
            4 => new SKMatrix(1, 0, 0, 0, -1, h, 0, 0, 1),
            5 => new SKMatrix(0, 1, 0, 1, 0, 0, 0, 0, 1),
            6 => new SKMatrix(0, -1, h, 1, 0, 0, 0, 0, 1),
            7 => new SKMatrix(0, -1, h, -1, 0, w, 0, 0, 1),
            _ => new SKMatrix(0, 1, 0, -1, 0, w, 0, 0, 1),
        };
        // Rotations by 90° are inverted by the opposite rotation (anchored on the other side); the rest are their own inverse.
        if (inverse && orientation == 6) m = new SKMatrix(0, 1, 0, -1, 0, w, 0, 0, 1);
        else if (inverse && orientation == 8) m = new SKMatrix(0, -1, h, 1, 0, 0, 0, 0, 1);
        canvas.SetMatrix(m);
        using var image = SKImage.FromBitmap(source);
        canvas.DrawImage(image, 0, 0, new SKSamplingOptions(SKFilterMode.Nearest));
        canvas.Flush();
        return target;
    }

    /// <summary>A minimal big-endian TIFF structure: IFD0 with one entry, Orientation (SHORT).</summary>
    public static byte[] ExifTiff(int orientation)
    {
        var t = new byte[8 + 2 + 12 + 4];
        "MM"u8.CopyTo(t);
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(2), 42);
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(4), 8); // IFD0 right after the header
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(8), 1); // one entry
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(10), 0x0112); // Orientation
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(12), 3); // SHORT
        BinaryPrimitives.WriteUInt32BigEndian(t.AsSpan(14), 1); // count
        BinaryPrimitives.WriteUInt16BigEndian(t.AsSpan(18), (ushort)orientation); // value, left-justified
        return t; // next-IFD offset: 0
    }

    /// <summary>The JPEG with an APP1 Exif segment carrying <paramref name="orientation"/> spliced in after SOI.</summary>
    public static byte[] WithJpegOrientation(byte[] jpeg, int orientation)
    {
        if (jpeg is not [0xFF, 0xD8, ..]) throw new ArgumentException("not a JPEG", nameof(jpeg));
        byte[] body = [.. "Exif\0\0"u8, .. ExifTiff(orientation)];
        var app1 = new byte[4 + body.Length];
        app1[0] = 0xFF;
        app1[1] = 0xE1;
        BinaryPrimitives.WriteUInt16BigEndian(app1.AsSpan(2), (ushort)(body.Length + 2));
        body.CopyTo(app1, 4);
        return [0xFF, 0xD8, .. app1, .. jpeg.AsSpan(2)];
    }

    /// <summary>The PNG with an <c>eXIf</c> chunk carrying <paramref name="orientation"/> inserted after IHDR.</summary>
    public static byte[] WithPngOrientation(byte[] png, int orientation)
    {
        const int afterIhdr = 8 + 8 + 13 + 4;
        var data = ExifTiff(orientation);
        var chunk = new byte[12 + data.Length];
        BinaryPrimitives.WriteUInt32BigEndian(chunk, (uint)data.Length);
        "eXIf"u8.CopyTo(chunk.AsSpan(4));
        data.CopyTo(chunk, 8);
        BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + data.Length), Crc32(chunk.AsSpan(4, 4 + data.Length)));
        return [.. png.AsSpan(0, afterIhdr), .. chunk, .. png.AsSpan(afterIhdr)];
    }

    /// <summary>A simple (VP8/VP8L) WebP rewritten in the extended format (VP8X) with an <c>EXIF</c> chunk.</summary>
    public static byte[] WithWebpOrientation(byte[] webp, int orientation, int width, int height)
    {
        var image = webp.AsSpan(12); // the one VP8/VP8L chunk after "RIFF" size "WEBP"
        var vp8x = new byte[18];
        "VP8X"u8.CopyTo(vp8x);
        BinaryPrimitives.WriteUInt32LittleEndian(vp8x.AsSpan(4), 10);
        vp8x[8] = 0x08; // EXIF present
        WriteUInt24(vp8x.AsSpan(12), width - 1);
        WriteUInt24(vp8x.AsSpan(15), height - 1);
        var tiff = ExifTiff(orientation);
        var exif = new byte[8 + tiff.Length + (tiff.Length & 1)];
        "EXIF"u8.CopyTo(exif);
        BinaryPrimitives.WriteUInt32LittleEndian(exif.AsSpan(4), (uint)tiff.Length);
        tiff.CopyTo(exif, 8);
        byte[] riff = [.. "RIFF"u8, 0, 0, 0, 0, .. "WEBP"u8, .. vp8x, .. image, .. exif];
        BinaryPrimitives.WriteUInt32LittleEndian(riff.AsSpan(4), (uint)(riff.Length - 8));
        return riff;
    }

    /// <summary>The probe's truncation: the first <paramref name="fraction"/> of the file, then EOI (<c>FF D9</c>).</summary>
    public static byte[] CutWithEndOfImage(byte[] jpeg, double fraction) => [.. jpeg.AsSpan(0, (int)(jpeg.Length * fraction)), 0xFF, 0xD9];

    /// <summary>Where each scan's SOS marker starts, found by walking the marker segments (an <c>FF DA</c> inside a
    /// table or an EXIF block is not a scan).</summary>
    public static List<int> ScanStarts(byte[] jpeg)
    {
        var starts = new List<int>();
        int i = 2;
        while (i + 4 <= jpeg.Length && jpeg[i] == 0xFF)
        {
            byte marker = jpeg[i + 1];
            if (marker == 0xD9) break;
            int length = (jpeg[i + 2] << 8) | jpeg[i + 3];
            if (marker == 0xDA) starts.Add(i);
            i += 2 + length;
            if (marker != 0xDA) continue;
            // Entropy-coded data: up to the next FF that is neither stuffing (FF 00) nor a restart marker.
            while (i + 1 < jpeg.Length && !(jpeg[i] == 0xFF && jpeg[i + 1] is not (0x00 or >= 0xD0 and <= 0xD7))) i++;
        }
        return starts;
    }

    private static void WriteUInt24(Span<byte> span, int value)
    {
        span[0] = (byte)value;
        span[1] = (byte)(value >> 8);
        span[2] = (byte)(value >> 16);
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320 & (0u - (crc & 1)));
        }
        return ~crc;
    }
}
