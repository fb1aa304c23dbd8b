using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;

namespace Moderation.Streams.Worker.Tests.Adversarial;

/// <summary>
/// Generators of media that hide a picture where a viewer sees it but a careless screener does not look: late in a
/// long video, after a strobe that spends a scene-change budget, in a second (default-flagged) video track, in a later
/// frame of an animated GIF/PNG/WebP, in the animation of an APNG whose default image is innocent. Videos and GIF/WebP
/// come from the real ffmpeg (tiny sizes, few frames per second); APNGs are written chunk by chunk from Skia-encoded
/// PNGs so that where the default image sits is exactly what the test says.
/// </summary>
public sealed class AdversarialMedia : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("adversarial-");

    public const int Width = 320;
    public const int Height = 240;

    public string PathOf(string name) => Path.Combine(_folder.FullName, name);

    /// <summary>Writes <paramref name="png"/> into the work folder and returns its path (an ffmpeg input).</summary>
    public string Still(string name, byte[] png)
    {
        File.WriteAllBytes(PathOf(name), png);
        return PathOf(name);
    }

    /// <summary>Innocent footage (ffmpeg's test pattern) for <paramref name="innocentSeconds"/>, then the picture for
    /// <paramref name="pictureSeconds"/>: at 65 s of a 70 s video, past where a 60-frame budget stops.</summary>
    public byte[] LateReveal(string picture, int innocentSeconds = 65, int pictureSeconds = 5) => Make("late.mp4",
        "-f", "lavfi", "-i", $"testsrc=size={Width}x{Height}:rate=2:duration={innocentSeconds}",
        "-loop", "1", "-framerate", "2", "-t", pictureSeconds.ToString(), "-i", picture,
        "-filter_complex", $"[1:v]scale={Width}:{Height},setsar=1[p];[0:v][p]concat=n=2:v=1,format=yuv420p[v]", "-map", "[v]",
        "-c:v", "libx264", "-preset", "ultrafast");

    /// <summary>4.7 s of black/white strobe at 30 fps, then the picture for 2 s. The strobe flips every second frame:
    /// ffmpeg's scene score compares each frame's difference with the previous difference, so a flip on every frame scores
    /// 0 after the first, while this one scores 1 on every other frame (70 scene changes, more than a 60-frame budget).</summary>
    public byte[] AfterStrobe(string picture) => Make("strobe.mp4",
        "-f", "lavfi", "-i", $"nullsrc=size={Width}x{Height}:rate=30:duration=4.7,geq=lum=255*mod(floor(N/2)\\,2):cb=128:cr=128",
        "-loop", "1", "-framerate", "30", "-t", "2", "-i", picture,
        "-filter_complex", $"[0:v]format=yuv420p,setsar=1[s];[1:v]scale={Width}:{Height},setsar=1,format=yuv420p[p];[s][p]concat=n=2:v=1[v]", "-map", "[v]",
        "-c:v", "libx264", "-preset", "ultrafast");

    /// <summary>Two video tracks: the first innocent and not default, the second (the one players show) the picture.</summary>
    public byte[] SecondTrack(string picture) => Make("tracks.mp4",
        "-f", "lavfi", "-i", $"testsrc=size={Width}x{Height}:rate=2:duration=3",
        "-loop", "1", "-framerate", "2", "-t", "3", "-i", picture,
        "-filter_complex", $"[1:v]scale={Width}:{Height},setsar=1,format=yuv420p[p]", "-map", "0:v", "-map", "[p]",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-disposition:v:0", "0", "-disposition:v:1", "default");

    /// <summary>Innocent footage of <paramref name="seconds"/>, small (160x120, 5 fps).</summary>
    public byte[] Footage(string name, int seconds, params string[] extra) => Make(name,
        [.. (string[])["-f", "lavfi", "-i", $"testsrc=size=160x120:rate=5:duration={seconds}", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"], .. extra]);

    /// <summary>An animated GIF of the stills, one a second (ffmpeg's palette per file keeps the picture's colours close;
    /// without <c>passthrough</c> ffmpeg 5.1 drops the last frame behind <c>paletteuse</c>).</summary>
    public byte[] Gif(params string[] stills) => Make("frames.gif",
        [.. Inputs(stills), "-filter_complex", $"{Concat(stills.Length)}split[a][b];[a]palettegen[p];[b][p]paletteuse", "-loop", "0", "-fps_mode", "passthrough"]);

    /// <summary>A lossless animated WebP of the stills, one a second.</summary>
    public byte[] AnimatedWebp(params string[] stills) => Make("frames.webp",
        [.. Inputs(stills), "-filter_complex", $"{Concat(stills.Length)}format=rgba", "-c:v", "libwebp_anim", "-lossless", "1", "-loop", "0", "-fps_mode", "passthrough"]);

    private static IEnumerable<string> Inputs(string[] stills) =>
        stills.SelectMany(s => new[] { "-loop", "1", "-framerate", "1", "-t", "1", "-i", s });

    private static string Concat(int n) =>
        string.Concat(Enumerable.Range(0, n).Select(i => $"[{i}:v]")) + $"concat=n={n}:v=1,";

    /// <summary>
    /// An APNG written chunk by chunk: the default image (<c>IDAT</c>) from <paramref name="defaultPng"/>, then each of
    /// <paramref name="framePngs"/> as an animation frame (<c>fcTL</c> + <c>fdAT</c>), a second each. When
    /// <paramref name="defaultIsFrame"/> is false the default image is not part of the animation: APNG viewers never show
    /// it, other viewers show only it. All PNGs must share one size and pixel format (Skia encodes them alike).
    /// </summary>
    public static byte[] Apng(byte[] defaultPng, bool defaultIsFrame, params byte[][] framePngs)
    {
        var header = Chunks(defaultPng).First(c => c.Type == "IHDR").Data;
        int width = BinaryPrimitives.ReadInt32BigEndian(header), height = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4));
        foreach (var frame in framePngs)
            Assert.Equal(header, Chunks(frame).First(c => c.Type == "IHDR").Data);
        var output = new MemoryStream();
        output.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        WriteChunk(output, "IHDR", header);
        var actl = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(actl, framePngs.Length + (defaultIsFrame ? 1 : 0));
        WriteChunk(output, "acTL", actl); // plays 0: forever
        uint sequence = 0;
        if (defaultIsFrame) WriteChunk(output, "fcTL", FrameControl(sequence++, width, height));
        foreach (var idat in Chunks(defaultPng).Where(c => c.Type == "IDAT")) WriteChunk(output, "IDAT", idat.Data);
        foreach (var frame in framePngs)
        {
            WriteChunk(output, "fcTL", FrameControl(sequence++, width, height));
            foreach (var idat in Chunks(frame).Where(c => c.Type == "IDAT"))
            {
                var data = new byte[4 + idat.Data.Length];
                BinaryPrimitives.WriteUInt32BigEndian(data, sequence++);
                idat.Data.CopyTo(data, 4);
                WriteChunk(output, "fdAT", data);
            }
        }
        WriteChunk(output, "IEND", []);
        return output.ToArray();
    }

    private static byte[] FrameControl(uint sequence, int width, int height)
    {
        var fctl = new byte[26];
        BinaryPrimitives.WriteUInt32BigEndian(fctl, sequence);
        BinaryPrimitives.WriteInt32BigEndian(fctl.AsSpan(4), width);
        BinaryPrimitives.WriteInt32BigEndian(fctl.AsSpan(8), height);
        // x, y offsets 0; delay 1/1 s; dispose none, blend source.
        BinaryPrimitives.WriteUInt16BigEndian(fctl.AsSpan(20), 1);
        BinaryPrimitives.WriteUInt16BigEndian(fctl.AsSpan(22), 1);
        return fctl;
    }

    private static IEnumerable<(string Type, byte[] Data)> Chunks(byte[] png)
    {
        for (int at = 8; at + 12 <= png.Length;)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            yield return (Encoding.ASCII.GetString(png, at + 4, 4), png.AsSpan(at + 8, length).ToArray());
            at += 12 + length;
        }
    }

    private static void WriteChunk(Stream output, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        output.Write(word);
        var typeAndData = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        output.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32(typeAndData));
        output.Write(word);
    }

    private static uint Crc32(byte[] bytes)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in bytes)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? 0xEDB88320 ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
    }

    /// <summary>Runs the real ffmpeg (output last, in the work folder) and returns the file's bytes.</summary>
    public byte[] Make(string name, params string[] args)
    {
        bool found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, "ffmpeg")));
        Assert.True(found, "ffmpeg is not installed: the video and animation tests need Debian's ffmpeg (apt-get install -y ffmpeg; ./test.sh installs it)");
        var psi = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-hide_banner", "-nostdin", "-v", "error", "-y" }.Concat(args).Append(PathOf(name))) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"ffmpeg {string.Join(' ', args)} failed: {stderr}");
        return File.ReadAllBytes(PathOf(name));
    }

    public void Dispose()
    {
        try { _folder.Delete(recursive: true); } catch (IOException) { }
    }
}
