namespace Moderation.Streams.Hashing;

/// <summary>
/// Computes PDQ hashes, bit-exact with Meta's C++ reference (<c>pdq-photo-hasher</c>) for the same 8-bit pixels.
/// <para>
/// An instance owns about 3 MB of working buffers that every call reuses, so hashing allocates nothing per
/// image. It is <b>not thread-safe</b>: use one instance per thread (or pool them).
/// </para>
/// <para>
/// The reference's rules are part of the hash: a picture with a side over 512 pixels is first resized to exactly
/// 512x512 (aspect ratio ignored) by nearest neighbour on the 8-bit data; luma is 0.299 R + 0.587 G + 0.114 B in
/// float, while one-channel pixels, and RGB pixels that are all grey (ImageMagick gives those to the reference as
/// PGM), are used as the grey value itself; a picture with a side under 5 pixels (after that resize) gets the
/// all-zero hash and quality 0.
/// </para>
/// </summary>
public sealed class PdqHasher
{
    /// <summary>Pictures larger than this on either side are resized to exactly this square first.</summary>
    public const int ResizeSide = 512;

    /// <summary>Pictures smaller than this on either side (after the resize) hash to zero with quality 0.</summary>
    public const int MinSide = 5;

    private const int Downsampled = 64;

    private static readonly float LumaR = (float)0.299, LumaG = (float)0.587, LumaB = (float)0.114;

    private readonly float[] _buffer1 = new float[ResizeSide * ResizeSide];
    private readonly float[] _buffer2 = new float[ResizeSide * ResizeSide];
    private readonly float[] _columnSums = new float[ResizeSide];
    private readonly float[] _buffer64x64 = new float[Downsampled * Downsampled];
    private readonly float[] _buffer16x64 = new float[16 * Downsampled];
    private readonly float[] _dct = new float[16 * 16];
    private readonly float[] _dctAux = new float[16 * 16];
    private int _lastQuality;

    /// <summary>
    /// Hashes tightly packed 8-bit pixels: <paramref name="channels"/> 1 (grey) or 3 (RGB), row by row.
    /// Same as the reference's default output. A picture of exactly 64x64 skips the blur, as in the reference
    /// (it is taken to be downsampled already), so its hash can differ from <see cref="HashDihedral"/>'s original.
    /// </summary>
    public PdqResult Hash(ReadOnlySpan<byte> pixels, int width, int height, int channels)
    {
        if (channels == RgbaChannels) throw new ArgumentOutOfRangeException(nameof(channels), channels, "1 (grey) or 3 (RGB); RGBA: HashRgba");
        return HashAny(pixels, width, height, channels);
    }

    /// <summary>
    /// <see cref="Hash"/> of tightly packed RGBA pixels, the alpha ignored: exactly the hash of the same RGB pixels,
    /// without the copy a decoder would otherwise make. <paramref name="channels"/> is 4, or 1 for grey pixels.
    /// </summary>
    public PdqResult HashDecoded(ReadOnlySpan<byte> pixels, int width, int height, int channels)
    {
        if (channels is not (1 or RgbaChannels)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "1 (grey) or 4 (RGBA)");
        return HashAny(pixels, width, height, channels);
    }

    private const int RgbaChannels = 4;

    private PdqResult HashAny(ReadOnlySpan<byte> pixels, int width, int height, int channels)
    {
        if (!LoadLuma(pixels, width, height, channels, out int rows, out int cols)) return Empty();

        if (rows == Downsampled && cols == Downsampled)
            _buffer1.AsSpan(0, Downsampled * Downsampled).CopyTo(_buffer64x64);
        else
            Downsample(rows, cols);

        int quality = _lastQuality = PdqDct.Quality(_buffer64x64);
        PdqDct.Dct64To16(_buffer64x64, _buffer16x64, _dct);
        return new PdqResult(PdqDct.ToHash(_dct), quality);
    }

    /// <summary>The eight dihedral hashes and the quality, as the reference's <c>--pdqdih</c> (always blurred).</summary>
    public PdqDihedral HashDihedral(ReadOnlySpan<byte> pixels, int width, int height, int channels)
    {
        if (channels == RgbaChannels) throw new ArgumentOutOfRangeException(nameof(channels), channels, "1 (grey) or 3 (RGB)");
        if (!LoadLuma(pixels, width, height, channels, out int rows, out int cols))
        {
            Empty();
            return new PdqDihedral(default, default, default, default, default, default, default, default, 0);
        }

        Downsample(rows, cols);
        _lastQuality = PdqDct.Quality(_buffer64x64);
        PdqDct.Dct64To16(_buffer64x64, _buffer16x64, _dct);
        return DihedralOfLast();
    }

    /// <summary>
    /// The eight dihedral hashes of the picture last given to <see cref="Hash"/> or <see cref="HashDihedral"/>,
    /// from its DCT (no second pass over the pixels). Lets a caller hash once and match all transforms.
    /// </summary>
    public PdqDihedral DihedralOfLast() => new(
        PdqDct.ToHash(_dct),
        TransformedHash(PdqTransform.Rotate90),
        TransformedHash(PdqTransform.Rotate180),
        TransformedHash(PdqTransform.Rotate270),
        TransformedHash(PdqTransform.FlipX),
        TransformedHash(PdqTransform.FlipY),
        TransformedHash(PdqTransform.FlipPlus1),
        TransformedHash(PdqTransform.FlipMinus1),
        _lastQuality);

    /// <summary>The 64x64 downsample of the last hashed picture (for tests).</summary>
    internal ReadOnlySpan<float> LastDownsample => _buffer64x64;

    /// <summary>The 16x16 DCT of the last hashed picture (for tests).</summary>
    internal ReadOnlySpan<float> LastDct => _dct;

    // Too small to hash: the all-zero hash; the DCT is cleared so that DihedralOfLast agrees (all zero too).
    private PdqResult Empty()
    {
        _dct.AsSpan().Clear();
        _lastQuality = 0;
        return new PdqResult(PdqHash.Zero, 0);
    }

    private PdqHash TransformedHash(PdqTransform transform)
    {
        PdqDct.Transform(_dct, _dctAux, transform);
        return PdqDct.ToHash(_dctAux);
    }

    private void Downsample(int rows, int cols)
    {
        int pixels = rows * cols;
        JaroszDownscaler.Filter(_buffer1.AsSpan(0, pixels), _buffer2.AsSpan(0, pixels), _columnSums, rows, cols,
            JaroszDownscaler.WindowSize(cols, Downsampled), JaroszDownscaler.WindowSize(rows, Downsampled));
        JaroszDownscaler.Decimate(_buffer1.AsSpan(0, pixels), rows, cols, _buffer64x64);
    }

    /// <summary>Resizes if the reference would, then fills _buffer1 with float luma. False: too small to hash.</summary>
    private bool LoadLuma(ReadOnlySpan<byte> pixels, int width, int height, int channels, out int rows, out int cols)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        if (channels is not (1 or 3 or RgbaChannels)) throw new ArgumentOutOfRangeException(nameof(channels), channels, "1 (grey) or 3 (RGB)");
        if (pixels.Length != (long)width * height * channels)
            throw new ArgumentException($"expected {width}x{height}x{channels} = {(long)width * height * channels} bytes, got {pixels.Length}", nameof(pixels));

        // ImageMagick hands the reference every picture whose pixels are all grey as one-channel PGM, whatever the
        // file's own colour type, and the grey value is not always what the RGB formula gives for (v, v, v) (it is
        // 1 ulp off for 35 of the 256 values). So grey RGB is read as grey, as the reference would see the file.
        bool grey = channels == 1 || AllGrey(pixels, channels);

        if (width > ResizeSide || height > ResizeSide)
        {
            // Resized and turned into luma in one pass: the same source pixel for each of the 512x512 positions
            // (CImg's nearest neighbour) and the same float expression as below, without the RGB copy in between.
            rows = cols = ResizeSide;
            LumaOfResized(pixels, width, height, channels, grey, _buffer1.AsSpan(0, ResizeSide * ResizeSide));
            return true;
        }
        rows = height;
        cols = width;
        if (rows < MinSide || cols < MinSide) return false;

        var luma = _buffer1.AsSpan(0, rows * cols);
        if (grey)
        {
            for (int i = 0, p = 0; i < luma.Length; i++, p += channels) luma[i] = pixels[p];
        }
        else
        {
            for (int i = 0, p = 0; i < luma.Length; i++, p += channels)
                luma[i] = LumaR * pixels[p] + LumaG * pixels[p + 1] + LumaB * pixels[p + 2];
        }
        return true;
    }

    // CImg's nearest-neighbour resize as the reference calls it (destination x reads source floor(x * W / 512)),
    // then luma of each sampled pixel (grey: the value itself).
    private static void LumaOfResized(ReadOnlySpan<byte> source, int width, int height, int channels, bool grey, Span<float> luma)
    {
        Span<int> sourceColumn = stackalloc int[ResizeSide];
        for (int x = 0; x < ResizeSide; x++) sourceColumn[x] = (int)((long)x * width / ResizeSide) * channels;
        int rowBytes = width * channels;
        for (int y = 0; y < ResizeSide; y++)
        {
            var sourceRow = source.Slice((int)((long)y * height / ResizeSide) * rowBytes, rowBytes);
            var target = luma.Slice(y * ResizeSide, ResizeSide);
            if (grey)
            {
                for (int x = 0; x < ResizeSide; x++) target[x] = sourceRow[sourceColumn[x]];
            }
            else
            {
                for (int x = 0; x < ResizeSide; x++)
                {
                    int s = sourceColumn[x];
                    target[x] = LumaR * sourceRow[s] + LumaG * sourceRow[s + 1] + LumaB * sourceRow[s + 2];
                }
            }
        }
    }

    private static bool AllGrey(ReadOnlySpan<byte> rgb, int channels)
    {
        // Photos differ in the first few pixels, so this rarely reads far.
        for (int p = 0; p < rgb.Length; p += channels)
            if (rgb[p] != rgb[p + 1] || rgb[p] != rgb[p + 2]) return false;
        return true;
    }
}
