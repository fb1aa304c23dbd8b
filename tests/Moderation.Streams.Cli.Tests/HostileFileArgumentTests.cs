using System.Runtime.InteropServices;
using Moderation.Streams.Embedded;
using Moderation.Streams.Media;
using static Moderation.Streams.Tests.Shared.Libc;

namespace Moderation.Streams.Cli.Tests;

/// <summary>
/// Verbs that read files someone names on the command line read only regular files, and at most <c>--max-bytes</c>
/// of them: <c>/dev/zero</c> would be read until memory runs out, a FIFO would block forever. Each such file fails
/// on its own (<c>moderation VERB: PATH: unsupported-media: not a regular file (…)</c>, exit 1) and the other files
/// are still processed. An <c>@</c> argument is an argument, never a response file to expand.
/// Every run is bounded by <see cref="ModerationProcess.DefaultDeadline"/>: a hang fails, it does not hang the suite.
/// </summary>
public sealed class HostileFileArgumentTests : IDisposable
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("hostile-args-");
    private readonly List<string> _fifos = [];

    public void Dispose()
    {
        foreach (var fifo in _fifos)
        {
            // A process wrongly blocked in open() on the FIFO is released (and then killed by its deadline).
            ReleaseBlockedReaders(fifo);
        }
        _dir.Delete(true);
    }

    private string Image(string name = "a.png")
    {
        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllBytes(path, SampleImages.Png(3, 96, 64));
        return path;
    }

    private string Fifo(string name)
    {
        var path = Path.Combine(_dir.FullName, name);
        Assert.Equal(0, mkfifo(path, 0x1B6));
        _fifos.Add(path);
        return path;
    }

    [Theory]
    [InlineData("hash")]
    [InlineData("classify")]
    public async Task Devices_and_fifos_fail_alone_without_blocking_and_the_other_files_are_processed(string verb)
    {
        var image = Image();
        var fifo = Fifo("pipe.png");
        var zeroLink = Path.Combine(_dir.FullName, "zero.png");
        File.CreateSymbolicLink(zeroLink, "/dev/zero");

        using var cli = await CliProcess.RunAsync([verb, "/dev/zero", fifo, image, zeroLink, "/dev/stdin"], ct: Ct);

        Assert.Equal(ExitCodes.Failure, await cli.WaitForExitAsync(ct: Ct));
        var line = Assert.Single(cli.StdoutLines);
        Assert.Contains(image, line);
        Assert.Contains($"moderation {verb}: /dev/zero: unsupported-media: not a regular file (a character device)", cli.StderrLines);
        Assert.Contains($"moderation {verb}: {fifo}: unsupported-media: not a regular file (a FIFO)", cli.StderrLines);
        Assert.Contains($"moderation {verb}: {zeroLink}: unsupported-media: not a regular file (a character device)", cli.StderrLines);
        // Standard input of a test process is a pipe.
        Assert.Contains($"moderation {verb}: /dev/stdin: unsupported-media: not a regular file (a FIFO)", cli.StderrLines);
    }

    [Fact]
    public async Task Bank_match_reports_devices_and_fifos_per_file_and_matches_the_others()
    {
        await using var redis = EmbeddedRedisServer.Start();
        var image = Image();
        var fifo = Fifo("pipe.png");

        using var cli = await CliProcess.RunAsync(["bank", "match", "--redis", redis.Configuration, "/dev/zero", fifo, image], ct: Ct);

        Assert.Equal(ExitCodes.Failure, await cli.WaitForExitAsync(ct: Ct));
        Assert.Contains(image, Assert.Single(cli.StdoutLines));
        Assert.Contains("moderation bank match: /dev/zero: unsupported-media: not a regular file (a character device)", cli.StderrLines);
        Assert.Contains($"moderation bank match: {fifo}: unsupported-media: not a regular file (a FIFO)", cli.StderrLines);
    }

    [Fact]
    public async Task Bank_import_refuses_devices_and_fifos_without_blocking_or_writing()
    {
        await using var redis = EmbeddedRedisServer.Start();
        var fifo = Fifo("pipe.csv");

        using var zero = await CliProcess.RunAsync(["bank", "import", "--redis", redis.Configuration, "--bank", "b", "/dev/zero"], ct: Ct);
        using var pipe = await CliProcess.RunAsync(["bank", "import", "--redis", redis.Configuration, "--bank", "b", fifo], ct: Ct);
        using var list = await CliProcess.RunAsync(["bank", "list", "--redis", redis.Configuration], ct: Ct);

        Assert.Equal(ExitCodes.Failure, await zero.WaitForExitAsync(ct: Ct));
        Assert.Contains("moderation bank import: /dev/zero: unsupported-media: not a regular file (a character device)", zero.StderrLines);
        Assert.Equal(ExitCodes.Failure, await pipe.WaitForExitAsync(ct: Ct));
        Assert.Contains($"moderation bank import: {fifo}: unsupported-media: not a regular file (a FIFO)", pipe.StderrLines);
        Assert.Equal(ExitCodes.Ok, await list.WaitForExitAsync(ct: Ct));
        Assert.Empty(list.StdoutLines);
    }

    [Fact]
    public async Task Files_over_max_bytes_are_too_large_and_the_default_is_32_MiB()
    {
        var image = Image();
        long size = new FileInfo(image).Length;

        using var capped = await CliProcess.RunAsync(["hash", "--max-bytes", (size - 1).ToString(), image], ct: Ct);
        using var exact = await CliProcess.RunAsync(["hash", "--max-bytes", size.ToString(), image], ct: Ct);
        using var help = await CliProcess.RunAsync(["hash", "--help"], ct: Ct);

        Assert.Equal(ExitCodes.Failure, await capped.WaitForExitAsync(ct: Ct));
        Assert.Contains($"moderation hash: {image}: media-too-large: file of {size} bytes exceeds the limit of {size - 1}", capped.StderrLines);
        Assert.Equal(ExitCodes.Ok, await exact.WaitForExitAsync(ct: Ct));
        Assert.Single(exact.StdoutLines);
        Assert.Contains(help.StdoutLines, l => l.Contains("--max-bytes") && l.Contains("33554432"));
    }

    [Fact]
    public async Task A_large_regular_file_is_refused_from_its_size_without_being_read()
    {
        var big = Path.Combine(_dir.FullName, "sparse.png");
        using (var file = File.Create(big)) file.SetLength(8L << 30); // sparse: 8 GiB claimed, nothing on disk

        using var cli = await CliProcess.RunAsync(["classify", big], ct: Ct);

        Assert.Equal(ExitCodes.Failure, await cli.WaitForExitAsync(ct: Ct));
        Assert.Contains($"moderation classify: {big}: media-too-large: file of {8L << 30} bytes exceeds the limit of {32L << 20}", cli.StderrLines);
    }

    [Fact]
    public async Task Evaluate_refuses_a_fifo_or_a_device_as_its_labels_or_policy_file()
    {
        var fifo = Fifo("labels.csv");
        File.WriteAllText(Path.Combine(_dir.FullName, "labels-ok.csv"), "a.png,neutral\n");
        Image();

        using var labels = await CliProcess.RunAsync(["evaluate", "--labels", fifo, "--out", Path.Combine(_dir.FullName, "r1")], ct: Ct);
        using var policy = await CliProcess.RunAsync(["evaluate", "--labels", Path.Combine(_dir.FullName, "labels-ok.csv"), "--policy", "/dev/zero", "--out", Path.Combine(_dir.FullName, "r2")], ct: Ct);

        Assert.Equal(ExitCodes.Usage, await labels.WaitForExitAsync(ct: Ct));
        Assert.Contains(labels.StderrLines, l => l.StartsWith("moderation evaluate: ", StringComparison.Ordinal) && l.Contains(fifo) && l.Contains("not a regular file (a FIFO)"));
        Assert.Equal(ExitCodes.Usage, await policy.WaitForExitAsync(ct: Ct));
        Assert.Contains(policy.StderrLines, l => l.StartsWith("moderation evaluate: /dev/zero", StringComparison.Ordinal) && l.Contains("not a regular file (a character device)"));
    }

    [Fact]
    public async Task An_at_sign_argument_is_a_file_name_not_a_response_file()
    {
        // With response files on, "@list" would be replaced by the lines of "list": any argument could read any file.
        var image = Image();
        var list = Path.Combine(_dir.FullName, "list");
        File.WriteAllText(list, image + "\n");

        using var cli = await CliProcess.RunAsync(["hash", "@" + list], ct: Ct);

        Assert.Equal(ExitCodes.Failure, await cli.WaitForExitAsync(ct: Ct));
        Assert.Empty(cli.StdoutLines);
        Assert.Contains(cli.StderrLines, l => l.StartsWith($"moderation hash: @{list}: media-unavailable:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Replay_takes_an_at_unix_ms_bound_as_a_timestamp()
    {
        using var broker = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Partitions = 1 });

        using var replay = await CliProcess.RunAsync(["replay", "--kafka", broker.BootstrapServers, "--from", "@1733400000000", "--to", "now", "--dry-run", "--progress", "none"], ct: Ct);

        Assert.True(await replay.WaitForExitAsync(ct: Ct) == ExitCodes.Ok, replay.Transcript());
        Assert.Contains(replay.StdoutLines, l => l.StartsWith("replay group=", StringComparison.Ordinal) && l.Contains(" total=0 "));
    }
}
