namespace Moderation.Streams.Media;

/// <summary>
/// Walks a JPEG's marker segments without decoding anything. libjpeg-turbo (inside SkiaSharp) reports a
/// progressive JPEG cut short, or corrupt entropy data, as success with invented pixels, and decodes any
/// number of scans: the walk finds both truncation (no EOI after the image's scans) and scan bombs
/// (thousands of tiny refinement scans, each a pass over every block). A file cut short and closed with an EOI
/// passes this walk; <see cref="JpegEntropy"/> then checks that the scans' data holds the whole picture.
/// </summary>
internal readonly record struct JpegStructure(int Scans, bool Complete, int Width, int Height)
{
    public static JpegStructure Read(ReadOnlySpan<byte> b)
    {
        int scans = 0, i = 2, width = 0, height = 0;
        while (true)
        {
            // A marker: 0xFF (any number of fill bytes), then its code.
            if (i >= b.Length || b[i] != 0xFF) return new(scans, false, width, height);
            while (i < b.Length && b[i] == 0xFF) i++;
            if (i >= b.Length) return new(scans, false, width, height);
            byte marker = b[i++];
            if (marker == 0xD9) return new(scans, scans > 0, width, height); // EOI
            if (marker is >= 0xD0 and <= 0xD7 or 0x01) continue; // no length
            if (i + 2 > b.Length) return new(scans, false, width, height);
            int length = (b[i] << 8) | b[i + 1];
            if (length < 2 || i + length > b.Length) return new(scans, false, width, height);
            // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC): precision, height, width.
            if (marker is >= 0xC0 and <= 0xCF and not (0xC4 or 0xC8 or 0xCC) && length >= 7 && width == 0)
            {
                height = (b[i + 3] << 8) | b[i + 4];
                width = (b[i + 5] << 8) | b[i + 6];
            }
            i += length;
            if (marker != 0xDA) continue; // SOS: entropy-coded data follows, up to the next real marker
            scans++;
            while (true)
            {
                int ff = b[i..].IndexOf((byte)0xFF);
                if (ff < 0) return new(scans, false, width, height);
                i += ff;
                if (i + 1 >= b.Length) return new(scans, false, width, height);
                byte next = b[i + 1];
                if (next == 0x00 || next is >= 0xD0 and <= 0xD7) { i += 2; continue; } // stuffed byte, restart marker
                if (next == 0xFF) { i++; continue; } // fill
                break;
            }
        }
    }
}
