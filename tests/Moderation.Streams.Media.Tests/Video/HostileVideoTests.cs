using System.Diagnostics;
using System.Text;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media.Video;

namespace Moderation.Streams.Media.Tests.Video;

/// <summary>ffmpeg is an attack surface: hostile videos get their contract code, limits hold before decoding,
/// runaway processes are killed, and ffmpeg never opens anything but its standard input.</summary>
public sealed class HostileVideoTests : IDisposable
{
    private readonly TestVideos _videos = new();
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<string> CodeOf(byte[] video, VideoLimits? limits = null)
    {
        using var decoder = new VideoDecoder(limits ?? new VideoLimits());
        var e = await Assert.ThrowsAsync<ModerationException>(() => decoder.SampleAsync(video, null, Ct));
        return e.Code;
    }

    [Fact]
    public async Task An_hls_playlist_or_concat_script_is_refused_before_ffmpeg_runs()
    {
        // A missing ffmpeg would be "internal": unsupported-media proves no process was started.
        var noTools = new VideoLimits { FfmpegPath = "/nonexistent/ffmpeg", FfprobePath = "/nonexistent/ffprobe" };
        Assert.Equal(ErrorCodes.UnsupportedMedia, await CodeOf("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"u8.ToArray(), noTools));
        Assert.Equal(ErrorCodes.UnsupportedMedia, await CodeOf("ffconcat version 1.0\nfile '/etc/passwd'\n"u8.ToArray(), noTools));
        Assert.Equal(ErrorCodes.Internal, await CodeOf(_videos.TestSrc(seconds: 1), noTools));
    }

    [Fact]
    public async Task Even_fed_a_playlist_ffmpeg_with_our_input_options_never_opens_the_file_it_names()
    {
        TestVideos.RequireFfmpeg();
        // A FIFO as the canary: opening it for writing completes only if someone opens it for reading.
        var canary = _videos.PathOf("canary");
        using (var mk = Process.Start("mkfifo", [canary])) mk.WaitForExit();
        Assert.True(File.Exists(canary));
        var playlist = Encoding.ASCII.GetBytes($"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile://{canary}\n#EXTINF:1,\n{canary}\n#EXT-X-ENDLIST\n");
        var opened = Task.Run(() => { using var w = new FileStream(canary, FileMode.Open, FileAccess.Write); }, Ct);

        // Our demuxer whitelist with ffmpeg's own probing, and the hls demuxer forced with our protocol whitelist:
        // each layer alone refuses, and the canary stays closed.
        foreach (var input in new[] { (string[])["-protocol_whitelist", "pipe", "-format_whitelist", "mov"], ["-protocol_whitelist", "pipe", "-f", "hls"] })
        {
            var result = await FfmpegProcess.RunAsync("ffmpeg", [.. input, "-i", "pipe:0", "-f", "null", "-"], playlist,
                (s, t) => s.CopyToAsync(Stream.Null, t), null, new VideoLimits(), TimeSpan.FromSeconds(20), Ct);
            Assert.NotEqual(0, result.ExitCode);
        }
        Assert.False(opened.IsCompleted, "ffmpeg opened the file named by the playlist");
        // Release the writer ourselves.
        using (new FileStream(canary, FileMode.Open, FileAccess.Read)) { }
        await opened;
    }

    [Fact]
    public async Task Huge_claimed_duration_and_dimensions_are_refused_by_the_probe_as_too_large()
    {
        var lying = TestVideos.ClaimDuration(_videos.TestSrc(seconds: 1, extra: ["-movflags", "+faststart"]), seconds: 50_000_000);
        Assert.Equal(ErrorCodes.MediaTooLarge, await CodeOf(lying));
        var wide = _videos.Make("wide.mp4", "-f", "lavfi", "-i", "color=c=blue:size=4352x16:rate=5", "-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p");
        Assert.Equal(ErrorCodes.MediaTooLarge, await CodeOf(wide));
        Assert.Equal(ErrorCodes.MediaTooLarge, await CodeOf(_videos.TestSrc(seconds: 3), new VideoLimits { MaxDuration = TimeSpan.FromSeconds(2) }));
    }

    [Fact]
    public async Task Truncated_and_frameless_videos_are_undecodable_and_audio_only_or_unscreened_codecs_unsupported()
    {
        var whole = _videos.TestSrc("whole.mp4", seconds: 4, extra: ["-movflags", "+faststart"]);
        // Index intact, media data cut: the frames before the cut are still screened.
        using (var decoder = new VideoDecoder(new VideoLimits { SceneThreshold = 0 }))
        {
            var cut = await decoder.SampleAsync(whole[..(whole.Length * 6 / 10)], null, Ct);
            Assert.InRange(cut.Frames.Count, 1, 3);
        }
        // Index at the end and cut off: nothing to read.
        var defaultLayout = _videos.TestSrc("end.mp4", seconds: 2);
        Assert.Equal(ErrorCodes.UndecodableMedia, await CodeOf(defaultLayout[..(defaultLayout.Length / 2)]));
        Assert.Equal(ErrorCodes.UndecodableMedia, await CodeOf(whole[..64]));
        // A video track without a single frame, and a container without any track (ffmpeg asked for zero frames).
        Assert.Equal(ErrorCodes.UndecodableMedia, await CodeOf(TestVideos.WithoutSamples(whole)));
        var empty = _videos.Make("empty.mp4", "-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "0", "-c:v", "libx264");
        Assert.Equal(ErrorCodes.UndecodableMedia, await CodeOf(empty));
        Assert.Equal(ErrorCodes.UndecodableMedia, await CodeOf([0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01]));
        var audio = _videos.Make("audio.mp4", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac");
        Assert.Equal(ErrorCodes.UnsupportedMedia, await CodeOf(audio));
        var mpeg4 = _videos.Make("mpeg4.mp4", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=5", "-t", "1", "-c:v", "mpeg4");
        Assert.Equal(ErrorCodes.UnsupportedMedia, await CodeOf(mpeg4));
    }

    [Fact]
    public async Task A_tool_that_hangs_is_killed_at_the_wall_clock_limit_and_one_that_spins_at_the_cpu_limit()
    {
        var pidFile = _videos.PathOf("pid");
        var hang = WriteScript("hang.sh", $"echo $$ > {pidFile}; exec sleep 600");
        var hangs = new VideoLimits { FfprobePath = hang, ProbeTimeout = TimeSpan.FromMilliseconds(700) };
        var e = await Assert.ThrowsAsync<ModerationException>(() => new VideoDecoder(hangs).ProbeAsync(_videos.TestSrc(seconds: 1), Ct));
        Assert.Equal(ErrorCodes.UndecodableMedia, e.Code);
        Assert.Contains("time limit", e.Message);
        int pid = int.Parse(File.ReadAllText(pidFile).Trim());
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (Directory.Exists($"/proc/{pid}") && DateTime.UtcNow < deadline) await Task.Yield();
        Assert.False(Directory.Exists($"/proc/{pid}") && !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z "), "the hung process is still running");

        var spin = WriteScript("spin.sh", "while :; do :; done");
        var spins = new VideoLimits { FfprobePath = spin, CpuSeconds = 1, ProbeTimeout = TimeSpan.FromSeconds(30) };
        e = await Assert.ThrowsAsync<ModerationException>(() => new VideoDecoder(spins).ProbeAsync(_videos.TestSrc(seconds: 1), Ct));
        Assert.Equal(ErrorCodes.UndecodableMedia, e.Code);
        Assert.Contains("CPU limit", e.Message);
    }

    [Fact]
    public async Task The_tools_run_with_an_empty_environment_so_ffreport_or_proxies_set_for_the_worker_never_reach_them()
    {
        var dump = _videos.PathOf("env.txt");
        var tool = WriteScript("env.sh", $"env > {dump}; exit 1");
        var e = await Assert.ThrowsAsync<ModerationException>(() => new VideoDecoder(new VideoLimits { FfprobePath = tool }).ProbeAsync(_videos.TestSrc(seconds: 1), Ct));
        Assert.Equal(ErrorCodes.UndecodableMedia, e.Code);
        var names = File.ReadAllLines(dump).Select(l => l.Split('=')[0]).ToHashSet();
        Assert.Contains("PATH", names);
        Assert.Empty(names.Except(["PATH", "PWD", "SHLVL", "_"]));
    }

    [Fact]
    public async Task The_tool_is_started_itself_without_a_shell_so_an_image_without_bin_sh_runs_it()
    {
        // A shell in between would add its own variables (dash: PWD) to what env prints.
        var printed = await OutputOf("env", [], "");
        Assert.Equal([$"PATH={Environment.GetEnvironmentVariable("PATH")}"], printed.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task The_cpu_and_memory_limits_are_set_on_the_tool_before_it_reads_its_input()
    {
        // cat reads standard input to its end before /proc/self/limits: the limits it prints held while it read the input.
        var printed = await OutputOf("cat", ["-", "/proc/self/limits"], "input\n", new VideoLimits { CpuSeconds = 7, MemoryMiB = 512 });
        var lines = printed.Split('\n');
        Assert.Equal("input", lines[0]);
        Assert.Matches(@"^Max cpu time\s+7\s+8\s+seconds", lines.Single(l => l.StartsWith("Max cpu time", StringComparison.Ordinal)));
        Assert.Matches(@"^Max address space\s+536870912\s+536870912\s+bytes", lines.Single(l => l.StartsWith("Max address space", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_tool_missing_from_path_or_at_a_missing_path_is_internal_and_named()
    {
        var e = await Assert.ThrowsAsync<ModerationException>(() => OutputOf("no-such-tool-4f1c", [], ""));
        Assert.Equal(ErrorCodes.Internal, e.Code);
        Assert.Contains("no-such-tool-4f1c not found on PATH", e.Message);
        Assert.Null(FfmpegProcess.Resolve("/nonexistent/ffmpeg"));
        Assert.Equal("/usr/bin/env", FfmpegProcess.Resolve("/usr/bin/env"));
    }

    private static async Task<string> OutputOf(string tool, string[] args, string input, VideoLimits? limits = null)
    {
        var output = new MemoryStream();
        var result = await FfmpegProcess.RunAsync(tool, args, Encoding.UTF8.GetBytes(input),
            (stdout, token) => stdout.CopyToAsync(output, token), null, limits ?? new VideoLimits(), TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(0, result.ExitCode);
        return Encoding.UTF8.GetString(output.ToArray());
    }

    private string WriteScript(string name, string body)
    {
        var path = _videos.PathOf(name);
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    public void Dispose() => _videos.Dispose();
}
