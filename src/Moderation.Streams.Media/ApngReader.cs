using System.Buffers.Binary;
using Moderation.Streams.Contracts;
using SkiaSharp;

namespace Moderation.Streams.Media;

/// <summary>
/// Reads an animated PNG's frames. SkiaSharp's PNG codec decodes only the default image (<c>IDAT</c>) and ffmpeg's
/// APNG demuxer cannot read from a pipe, so the chunks are parsed here: each frame's data (<c>IDAT</c> or
/// <c>fdAT</c>) is wrapped as a PNG of its own and decoded by Skia, then composed onto the canvas as the APNG
/// specification says (frame rectangle, <c>blend_op</c> source/over, <c>dispose_op</c> none/background/previous).
/// Whether the default image is part of the animation (an <c>fcTL</c> before <c>IDAT</c>) is reported, because
/// APNG viewers never show a default image that is not, while other viewers show only it.
/// </summary>
internal sealed class ApngReader
{
    private static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    private readonly byte[] _header; // IHDR payload
    private readonly List<(string Type, byte[] Data)> _decodeChunks = []; // PLTE, tRNS: needed to decode any frame
    private readonly List<Frame> _frames = [];

    private sealed record Frame(int Width, int Height, int X, int Y, int DelayMs, byte Dispose, byte Blend)
    {
        public List<byte[]> Data { get; } = [];
    }

    public int Width { get; }
    public int Height { get; }

    /// <summary>Frames the file declares (<c>acTL</c>).</summary>
    public int DeclaredFrames { get; }

    /// <summary>Frames found (<c>fcTL</c> chunks with data).</summary>
    public int FrameCount => _frames.Count;

    /// <summary>True when the default image is the animation's first frame.</summary>
    public bool DefaultIsFrame { get; }

    /// <summary>Why the chunk structure could not be read to its end, or null.</summary>
    public string? StructureError { get; }

    /// <summary>True when the PNG has an <c>acTL</c> chunk before its image data: an APNG.</summary>
    public static bool IsApng(ReadOnlySpan<byte> png)
    {
        if (!png.StartsWith(Signature)) return false;
        for (int at = 8; at + 8 <= png.Length;)
        {
            uint length = BinaryPrimitives.ReadUInt32BigEndian(png[at..]);
            var type = png.Slice(at + 4, 4);
            if (type.SequenceEqual("acTL"u8)) return true;
            if (type.SequenceEqual("IDAT"u8) || type.SequenceEqual("IEND"u8) || length > int.MaxValue - 12) return false;
            at += 12 + (int)length;
        }
        return false;
    }

    public ApngReader(byte[] png)
    {
        Frame? current = null;
        bool seenIdat = false;
        int at = 8;
        try
        {
            while (at + 12 <= png.Length)
            {
                long length = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(at));
                if (at + 12 + length > png.Length) { StructureError = "a chunk runs past the end of the file"; break; }
                var type = System.Text.Encoding.ASCII.GetString(png, at + 4, 4);
                var data = png.AsSpan(at + 8, (int)length);
                at += 12 + (int)length;
                switch (type)
                {
                    case "IHDR": _header = data.ToArray(); break;
                    case "PLTE" or "tRNS": _decodeChunks.Add((type, data.ToArray())); break;
                    case "acTL" when data.Length >= 8: DeclaredFrames = (int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32BigEndian(data)); break;
                    case "fcTL" when data.Length >= 26:
                        current = new Frame(
                            ClampedInt(data[4..]), ClampedInt(data[8..]), ClampedInt(data[12..]), ClampedInt(data[16..]),
                            DelayMs(BinaryPrimitives.ReadUInt16BigEndian(data[20..]), BinaryPrimitives.ReadUInt16BigEndian(data[22..])), data[24], data[25]);
                        _frames.Add(current);
                        if (!seenIdat) DefaultIsFrame = true;
                        break;
                    case "IDAT":
                        seenIdat = true;
                        if (DefaultIsFrame && _frames.Count == 1) _frames[0].Data.Add(data.ToArray());
                        break;
                    case "fdAT" when data.Length > 4 && current is not null && seenIdat:
                        current.Data.Add(data[4..].ToArray());
                        break;
                    case "IEND": at = png.Length; break;
                }
            }
        }
        catch (ArgumentException)
        {
            StructureError = "the chunk structure is corrupt";
        }
        _header ??= [];
        if (_header.Length < 13) throw new ModerationException(ErrorCodes.UndecodableMedia, "PNG header is truncated or corrupt");
        Width = ClampedInt(_header);
        Height = ClampedInt(_header.AsSpan(4));
    }

    /// <summary>Decodes frames in order onto an RGBA canvas, calling <paramref name="onFrame"/> with each composed
    /// frame (the canvas, unpremultiplied RGBA, valid until the next call) and its display time. Stops at
    /// <paramref name="maxFrames"/>; returns why it stopped early, or null.</summary>
    public string? Compose(int maxFrames, Action<int, long, byte[]> onFrame, CancellationToken ct)
    {
        var canvas = new byte[checked(Width * Height * 4)];
        byte[]? saved = null;
        long time = 0;
        for (int i = 0; i < _frames.Count && i < maxFrames; i++)
        {
            ct.ThrowIfCancellationRequested();
            var f = _frames[i];
            if (f.Width < 1 || f.Height < 1 || f.X < 0 || f.Y < 0 || (long)f.X + f.Width > Width || (long)f.Y + f.Height > Height)
                return $"frame {i} lies outside the canvas";
            if (f.Data.Count == 0) return $"frame {i} has no image data";
            var pixels = DecodeFrame(f);
            if (pixels is null) return $"frame {i} could not be decoded";
            byte dispose = i == 0 && f.Dispose == 2 ? (byte)1 : f.Dispose;
            if (dispose == 2) saved = (byte[])canvas.Clone();
            Draw(canvas, pixels, f);
            onFrame(i, time, canvas);
            time += f.DelayMs;
            if (dispose == 1) Clear(canvas, f);
            else if (dispose == 2 && saved is not null) Buffer.BlockCopy(saved, 0, canvas, 0, canvas.Length);
        }
        if (StructureError is not null) return StructureError;
        return _frames.Count < DeclaredFrames ? $"{DeclaredFrames} frames declared, {_frames.Count} found" : null;
    }

    private byte[]? DecodeFrame(Frame f)
    {
        var png = new MemoryStream();
        png.Write(Signature);
        var header = (byte[])_header.Clone();
        BinaryPrimitives.WriteInt32BigEndian(header, f.Width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), f.Height);
        WriteChunk(png, "IHDR", header);
        foreach (var (type, data) in _decodeChunks) WriteChunk(png, type, data);
        foreach (var data in f.Data) WriteChunk(png, "IDAT", data);
        WriteChunk(png, "IEND", []);
        using var skData = SKData.CreateCopy(png.ToArray());
        using var codec = SKCodec.Create(skData);
        if (codec is null || codec.Info.Width != f.Width || codec.Info.Height != f.Height) return null;
        var info = new SKImageInfo(f.Width, f.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul, null);
        var pixels = new byte[info.RowBytes * f.Height];
        SKCodecResult result;
        unsafe
        {
            fixed (byte* p = pixels) result = codec.GetPixels(info, (IntPtr)p);
        }
        return result == SKCodecResult.Success ? pixels : null;
    }

    private void Draw(byte[] canvas, byte[] frame, Frame f)
    {
        for (int y = 0; y < f.Height; y++)
        {
            int from = y * f.Width * 4, to = ((f.Y + y) * Width + f.X) * 4;
            if (f.Blend == 0) { Buffer.BlockCopy(frame, from, canvas, to, f.Width * 4); continue; }
            for (int x = 0; x < f.Width; x++, from += 4, to += 4)
            {
                int sa = frame[from + 3];
                if (sa == 255) { Buffer.BlockCopy(frame, from, canvas, to, 4); continue; }
                if (sa == 0) continue;
                int da = canvas[to + 3];
                int outA = sa * 255 + da * (255 - sa); // × 255
                for (int c = 0; c < 3; c++)
                    canvas[to + c] = (byte)((frame[from + c] * sa * 255 + canvas[to + c] * da * (255 - sa) + outA / 2) / outA);
                canvas[to + 3] = (byte)((outA + 127) / 255);
            }
        }
    }

    private void Clear(byte[] canvas, Frame f)
    {
        for (int y = 0; y < f.Height; y++) Array.Clear(canvas, ((f.Y + y) * Width + f.X) * 4, f.Width * 4);
    }

    private static int ClampedInt(ReadOnlySpan<byte> b) => (int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32BigEndian(b));

    private static int DelayMs(ushort numerator, ushort denominator) => (int)Math.Round(numerator * 1000.0 / (denominator == 0 ? 100 : denominator));

    private static void WriteChunk(Stream output, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        var typeBytes = System.Text.Encoding.ASCII.GetBytes(type);
        output.Write(typeBytes);
        output.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32.Append(Crc32.Append(0xFFFFFFFF, typeBytes), data) ^ 0xFFFFFFFF);
        output.Write(word);
    }

    private static class Crc32
    {
        private static readonly uint[] Table = Enumerable.Range(0, 256).Select(n =>
        {
            uint c = (uint)n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            return c;
        }).ToArray();

        public static uint Append(uint crc, ReadOnlySpan<byte> bytes)
        {
            foreach (byte b in bytes) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
            return crc;
        }
    }
}
