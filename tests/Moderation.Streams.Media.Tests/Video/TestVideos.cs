using System.Buffers.Binary;
using System.Diagnostics;

namespace Moderation.Streams.Media.Tests.Video;

/// <summary>Tiny videos made by the real ffmpeg into a temporary folder (a few seconds, small sizes).</summary>
public sealed class TestVideos : IDisposable
{
    public DirectoryInfo Folder { get; } = Directory.CreateTempSubdirectory("video-tests-");

    /// <summary>Fails (never skips) with a clear message when ffmpeg is missing: test.sh installs it.</summary>
    public static void RequireFfmpeg()
    {
        foreach (var tool in new[] { "ffmpeg", "ffprobe" })
        {
            bool found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => d.Length > 0 && File.Exists(Path.Combine(d, tool)));
            Assert.True(found, $"{tool} is not installed: the video tests need Debian's ffmpeg (apt-get install -y ffmpeg; ./test.sh installs it)");
        }
    }

    /// <summary>Runs ffmpeg with <paramref name="args"/> (output file last, inside <see cref="Folder"/>) and returns the file's bytes.</summary>
    public byte[] Make(string name, params string[] args)
    {
        RequireFfmpeg();
        var output = Path.Combine(Folder.FullName, name);
        var psi = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "-hide_banner", "-nostdin", "-v", "error", "-y" }.Concat(args).Append(output)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"ffmpeg {string.Join(' ', args)} failed: {stderr.Result}");
        return File.ReadAllBytes(output);
    }

    public string PathOf(string name) => Path.Combine(Folder.FullName, name);

    /// <summary>An H.264 MP4 of ffmpeg's <c>testsrc</c> (its index written last, as phones and ffmpeg do by default).</summary>
    public byte[] TestSrc(string name = "testsrc.mp4", int width = 320, int height = 240, int seconds = 4, int rate = 25, params string[] extra) =>
        Make(name, [.. (string[])["-f", "lavfi", "-i", $"testsrc=size={width}x{height}:rate={rate}", "-t", seconds.ToString(), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"], .. extra]);

    /// <summary>A copy of <paramref name="source"/> re-encoded at another size and bitrate.</summary>
    public byte[] Reencode(string source, string name, int width, int height, string codec = "libx264", string bitrate = "150k") =>
        Make(name, "-i", PathOf(source), "-vf", $"scale={width}:{height}", "-c:v", codec, "-b:v", bitrate, "-pix_fmt", "yuv420p");

    /// <summary>Sets the movie header's duration (mvhd) to <paramref name="seconds"/>: a container that lies.</summary>
    public static byte[] ClaimDuration(byte[] mp4, long seconds)
    {
        var copy = (byte[])mp4.Clone();
        int at = copy.AsSpan().IndexOf("mvhd"u8);
        Assert.True(at > 4, "no mvhd box");
        int body = at + 4;
        Assert.Equal(0, copy[body]); // version 0: 32-bit fields
        uint timescale = BinaryPrimitives.ReadUInt32BigEndian(copy.AsSpan(body + 12));
        BinaryPrimitives.WriteUInt32BigEndian(copy.AsSpan(body + 16), (uint)Math.Min(uint.MaxValue, seconds * timescale));
        return copy;
    }

    /// <summary>Sets the sample count of every track (stsz) to zero: a video track without a single frame.</summary>
    public static byte[] WithoutSamples(byte[] mp4)
    {
        var copy = (byte[])mp4.Clone();
        int from = 0, found = 0;
        while (copy.AsSpan(from).IndexOf("stsz"u8) is var at and >= 0)
        {
            int body = from + at + 4;
            BinaryPrimitives.WriteUInt32BigEndian(copy.AsSpan(body + 8), 0);
            from = body;
            found++;
        }
        Assert.True(found > 0, "no stsz box");
        return copy;
    }

    /// <summary>Offset of a top-level box, or -1.</summary>
    public static long TopLevelBox(byte[] mp4, string type)
    {
        long offset = 0;
        while (offset + 8 <= mp4.Length)
        {
            long size = BinaryPrimitives.ReadUInt32BigEndian(mp4.AsSpan((int)offset));
            if (System.Text.Encoding.ASCII.GetString(mp4, (int)offset + 4, 4) == type) return offset;
            if (size == 1) size = (long)BinaryPrimitives.ReadUInt64BigEndian(mp4.AsSpan((int)offset + 8));
            if (size < 8) return -1;
            offset += size;
        }
        return -1;
    }

    public void Dispose()
    {
        try { Folder.Delete(recursive: true); } catch (IOException) { }
    }
}
