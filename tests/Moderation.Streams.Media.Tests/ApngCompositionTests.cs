using System.Buffers.Binary;
using System.Text;
using SkiaSharp;

namespace Moderation.Streams.Media.Tests;

/// <summary>APNG frames are composed as the specification says: frame rectangles, blend source/over,
/// dispose none/background/previous; a frame outside the canvas stops the decode and is reported.</summary>
public sealed class ApngCompositionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed record Frame(SKColor Color, int Width, int Height, int X = 0, int Y = 0, byte Dispose = 0, byte Blend = 0);

    private static byte[] Solid(SKColor color, int width, int height)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        bitmap.Erase(color);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>A 64x48 APNG whose default image is its first frame; every frame a solid colour in its rectangle.</summary>
    private static byte[] Apng(params Frame[] frames)
    {
        var output = new MemoryStream();
        output.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var first = Chunks(Solid(frames[0].Color, 64, 48));
        var header = first.First(c => c.Type == "IHDR").Data;
        Chunk(output, "IHDR", header);
        var actl = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(actl, frames.Length);
        Chunk(output, "acTL", actl);
        uint sequence = 0;
        for (int i = 0; i < frames.Length; i++)
        {
            var f = frames[i];
            var fctl = new byte[26];
            BinaryPrimitives.WriteUInt32BigEndian(fctl, sequence++);
            BinaryPrimitives.WriteInt32BigEndian(fctl.AsSpan(4), f.Width);
            BinaryPrimitives.WriteInt32BigEndian(fctl.AsSpan(8), f.Height);
            BinaryPrimitives.WriteInt32BigEndian(fctl.AsSpan(12), f.X);
            BinaryPrimitives.WriteInt32BigEndian(fctl.AsSpan(16), f.Y);
            BinaryPrimitives.WriteUInt16BigEndian(fctl.AsSpan(20), 1);
            BinaryPrimitives.WriteUInt16BigEndian(fctl.AsSpan(22), 10); // 100 ms
            fctl[24] = f.Dispose;
            fctl[25] = f.Blend;
            Chunk(output, "fcTL", fctl);
            var chunks = i == 0 ? first : Chunks(Solid(f.Color, f.Width, f.Height));
            Assert.Equal(header.AsSpan(8).ToArray(), chunks.First(c => c.Type == "IHDR").Data.AsSpan(8).ToArray()); // same pixel format
            foreach (var idat in chunks.Where(c => c.Type == "IDAT"))
            {
                if (i == 0) { Chunk(output, "IDAT", idat.Data); continue; }
                var data = new byte[4 + idat.Data.Length];
                BinaryPrimitives.WriteUInt32BigEndian(data, sequence++);
                idat.Data.CopyTo(data, 4);
                Chunk(output, "fdAT", data);
            }
        }
        Chunk(output, "IEND", []);
        return output.ToArray();
    }

    private static List<(string Type, byte[] Data)> Chunks(byte[] png)
    {
        var chunks = new List<(string, byte[])>();
        for (int at = 8; at + 12 <= png.Length;)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            chunks.Add((Encoding.ASCII.GetString(png, at + 4, 4), png.AsSpan(at + 8, length).ToArray()));
            at += 12 + length;
        }
        return chunks;
    }

    private static void Chunk(Stream output, string type, byte[] data)
    {
        var body = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        uint crc = 0xFFFFFFFF;
        foreach (byte b in body)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        var word = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        output.Write(body);
        BinaryPrimitives.WriteUInt32BigEndian(word, ~crc);
        output.Write(word);
    }

    private static List<(long Ms, DecodedImage Image)> Frames(byte[] apng, out string? notCovered)
    {
        var frames = new List<(long, DecodedImage)>();
        notCovered = AnimatedImageDecoder.Decode(apng, DecodeLimits.Default, (_, ms, image) => frames.Add((ms, image)), Ct).NotCovered;
        return frames;
    }

    private static (byte R, byte G, byte B) At(DecodedImage image, int x, int y)
    {
        int i = (y * image.Width + x) * 3;
        return (image.Pixels[i], image.Pixels[i + 1], image.Pixels[i + 2]);
    }

    [Fact]
    public void Every_frame_of_an_animation_is_turned_upright_by_the_files_recorded_orientation()
    {
        // Frame 1 paints the stored left half blue over a red frame 0. Stored 64x48 with orientation 6 (turn 90°
        // clockwise to show): viewers see 48x64 with the blue half on top, so the frames must be screened that way.
        var apng = Adversarial.StillImageEvasions.WithPngOrientation(
            Apng(new Frame(SKColors.Red, 64, 48), new Frame(SKColors.Blue, 32, 48)), 6);

        var frames = Frames(apng, out var notCovered);

        Assert.Null(notCovered);
        Assert.Equal(2, frames.Count);
        Assert.All(frames, f => Assert.Equal((48, 64), (f.Image.Width, f.Image.Height)));
        Assert.Equal(ImageDecoder.Decode(apng).Pixels, frames[0].Image.Pixels); // the still decoder's upright frame 0
        Assert.Equal((0, 0, 255), At(frames[1].Image, 10, 5));
        Assert.Equal((255, 0, 0), At(frames[1].Image, 10, 60));
    }

    [Fact]
    public void Frame_rectangles_dispose_to_background_and_to_previous_and_blend_over_transparency()
    {
        var apng = Apng(
            new Frame(SKColors.Red, 64, 48, Dispose: 1),                                  // then cleared to transparent
            new Frame(SKColors.Blue, 32, 24, X: 16, Y: 12, Dispose: 2),                   // then restored to before it
            new Frame(new SKColor(0, 255, 0, 128), 16, 16, X: 0, Y: 0, Blend: 1));        // half-transparent, over
        Assert.True(AnimatedImageDecoder.IsAnimated(apng));

        var frames = Frames(apng, out var notCovered);

        Assert.Null(notCovered);
        Assert.Equal([0L, 100, 200], frames.Select(f => f.Ms));
        Assert.Equal(((byte)255, (byte)0, (byte)0), At(frames[0].Image, 40, 30));
        Assert.Equal(((byte)0, (byte)0, (byte)255), At(frames[1].Image, 20, 15));
        Assert.Equal(((byte)0, (byte)0, (byte)0), At(frames[1].Image, 2, 2));     // red disposed to background
        Assert.Equal(((byte)0, (byte)255, (byte)0), At(frames[2].Image, 5, 5));   // green over transparency keeps its colour
        Assert.Equal(((byte)0, (byte)0, (byte)0), At(frames[2].Image, 20, 15));   // blue restored away
    }

    [Fact]
    public void Blending_over_an_opaque_frame_mixes_and_a_frame_outside_the_canvas_is_reported()
    {
        var mixed = Frames(Apng(new Frame(SKColors.Red, 64, 48), new Frame(new SKColor(0, 0, 255, 128), 64, 48, Blend: 1)), out var none);
        Assert.Null(none);
        var (r, g, b) = At(mixed[1].Image, 10, 10);
        Assert.InRange(r, 125, 129);
        Assert.Equal(0, g);
        Assert.InRange(b, 126, 130);

        var outside = Frames(Apng(new Frame(SKColors.Red, 64, 48), new Frame(SKColors.Blue, 32, 24, X: 40, Y: 0)), out var notCovered);
        Assert.Single(outside);
        Assert.Equal("frame 1 lies outside the canvas", notCovered);
    }
}
