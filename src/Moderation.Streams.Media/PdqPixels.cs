namespace Moderation.Streams.Media;

/// <summary>Pixels decoded for hashing: tightly packed, <see cref="Channels"/> 1 (grey) or 4 (RGBA, alpha to be
/// ignored), in a buffer owned by the <see cref="PdqDecoder"/> that made them (valid until its next decode).</summary>
public readonly ref struct PdqPixels(ReadOnlySpan<byte> pixels, int width, int height, int channels, int scaleDenominator)
{
    public ReadOnlySpan<byte> Pixels { get; } = pixels;
    public int Width { get; } = width;
    public int Height { get; } = height;
    public int Channels { get; } = channels;

    /// <summary>1 for a full decode; 2, 4 or 8 when a JPEG was decoded at 1/2, 1/4 or 1/8 scale (DCT scaling).</summary>
    public int ScaleDenominator { get; } = scaleDenominator;
}
