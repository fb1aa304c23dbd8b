namespace Moderation.Streams.Media;

/// <summary>
/// The dimensions a file declares, read by us from its first bytes, so that limits hold even where the
/// decoder library would refuse or misreport an oversized header. JPEG's come from <see cref="JpegStructure"/>;
/// WebP is left to the decoder's header read.
/// </summary>
internal static class HeaderDimensions
{
    public static (long Width, long Height)? Read(MediaFormat format, ReadOnlySpan<byte> b) => format switch
    {
        MediaFormat.Png when b.Length >= 24 => (BigEndian(b[16..]), BigEndian(b[20..])),
        MediaFormat.Gif when b.Length >= 10 => (b[6] | (b[7] << 8), b[8] | (b[9] << 8)),
        MediaFormat.Bmp when b.Length >= 26 && BitConverter.ToUInt32(b[14..]) == 12 => (BitConverter.ToUInt16(b[18..]), BitConverter.ToUInt16(b[20..])),
        // Height is negative for top-down bitmaps.
        MediaFormat.Bmp when b.Length >= 26 => (Math.Abs((long)BitConverter.ToInt32(b[18..])), Math.Abs((long)BitConverter.ToInt32(b[22..]))),
        _ => null,
    };

    private static long BigEndian(ReadOnlySpan<byte> b) => ((long)b[0] << 24) | ((long)b[1] << 16) | ((long)b[2] << 8) | b[3];
}
