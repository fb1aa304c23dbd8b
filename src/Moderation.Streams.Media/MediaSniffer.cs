namespace Moderation.Streams.Media;

/// <summary>Identifies media by its leading bytes.</summary>
public static class MediaSniffer
{
    /// <summary>The formats the decoder screens: JPEG, PNG, GIF, WebP, BMP (animated GIF/WebP/PNG frame by frame).</summary>
    public static bool IsSupportedImage(MediaFormat format) =>
        format is MediaFormat.Jpeg or MediaFormat.Png or MediaFormat.Gif or MediaFormat.Webp or MediaFormat.Bmp;

    public static MediaFormat Sniff(ReadOnlySpan<byte> b)
    {
        if (Starts(b, [0xFF, 0xD8, 0xFF])) return MediaFormat.Jpeg;
        if (Starts(b, [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A])) return MediaFormat.Png;
        if (b.StartsWith("GIF87a"u8) || b.StartsWith("GIF89a"u8)) return MediaFormat.Gif;
        if (b.Length >= 12 && b.StartsWith("RIFF"u8) && b[8..12].SequenceEqual("WEBP"u8)) return MediaFormat.Webp;
        // "BM", then a DIB header size BMP decoders know (12 OS/2, 40..124 Windows): two bytes alone match too much text.
        if (b.Length >= 18 && b.StartsWith("BM"u8) && BitConverter.ToUInt32(b[14..18]) is 12 or 16 or 40 or 52 or 56 or 64 or 108 or 124)
            return MediaFormat.Bmp;
        if (b.StartsWith("II*\0"u8) || b.StartsWith("MM\0*"u8)) return MediaFormat.Tiff;
        if (b.Length >= 12 && b[4..8].SequenceEqual("ftyp"u8))
        {
            var brand = b[8..12];
            if (brand.SequenceEqual("avif"u8) || brand.SequenceEqual("avis"u8)) return MediaFormat.Avif;
            if (brand.SequenceEqual("heic"u8) || brand.SequenceEqual("heix"u8) || brand.SequenceEqual("mif1"u8) || brand.SequenceEqual("msf1"u8))
                return MediaFormat.Heif;
            return MediaFormat.Mp4;
        }
        if (Starts(b, [0xFF, 0x0A]) || Starts(b, [0, 0, 0, 0x0C, (byte)'J', (byte)'X', (byte)'L', (byte)' '])) return MediaFormat.JpegXl;
        if (Starts(b, [0, 0, 0, 0x0C, (byte)'j', (byte)'P', (byte)' ', (byte)' ']) || Starts(b, [0xFF, 0x4F, 0xFF, 0x51])) return MediaFormat.Jpeg2000;
        if (Starts(b, [0, 0, 1, 0]) || Starts(b, [0, 0, 2, 0])) return MediaFormat.Ico;
        if (b.StartsWith("8BPS"u8)) return MediaFormat.Psd;
        if (b.StartsWith("%PDF"u8)) return MediaFormat.Pdf;
        if (Starts(b, [0x1A, 0x45, 0xDF, 0xA3])) return MediaFormat.WebM;
        if (Starts(b, [(byte)'P', (byte)'K', 3, 4])) return MediaFormat.Zip;
        if (Starts(b, [0x1F, 0x8B])) return MediaFormat.Gzip;
        var text = TrimStart(b[..Math.Min(b.Length, 512)]);
        if (StartsWithIgnoreCase(text, "<svg"u8) || (StartsWithIgnoreCase(text, "<?xml"u8) && text.IndexOf("<svg"u8) >= 0)) return MediaFormat.Svg;
        if (StartsWithIgnoreCase(text, "<!doctype html"u8) || StartsWithIgnoreCase(text, "<html"u8)) return MediaFormat.Html;
        return MediaFormat.Unknown;
    }

    private static bool Starts(ReadOnlySpan<byte> b, ReadOnlySpan<byte> prefix) => b.StartsWith(prefix);

    private static ReadOnlySpan<byte> TrimStart(ReadOnlySpan<byte> b)
    {
        if (Starts(b, [0xEF, 0xBB, 0xBF])) b = b[3..];
        int i = 0;
        while (i < b.Length && b[i] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n') i++;
        return b[i..];
    }

    private static bool StartsWithIgnoreCase(ReadOnlySpan<byte> text, ReadOnlySpan<byte> prefix)
    {
        if (text.Length < prefix.Length) return false;
        for (int i = 0; i < prefix.Length; i++)
            if ((text[i] | 0x20) != (prefix[i] | 0x20)) return false;
        return true;
    }
}
