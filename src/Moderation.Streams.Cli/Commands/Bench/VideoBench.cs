using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;
using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Inference;
using Moderation.Streams.Media.Video;
using Moderation.Streams.Worker;

namespace Moderation.Streams.Cli.Commands.Bench;

/// <summary>
/// <c>moderation bench video</c>: generated H.264 videos (made by ffmpeg at the start), screened end to end by the
/// worker's <see cref="VideoScreener"/> (probe, sampled frames, PDQ, a 10,000-entry in-memory bank, every frame
/// through the dynamic batcher and the model, the policy) against the baseline of the same run: ffprobe + ffmpeg
/// decoding and sampling the same frames and nothing else. Both at the same concurrency, rounds interleaved.
/// </summary>
internal static class VideoBench
{
    public static Command Create()
    {
        var videos = new Option<int>("--videos") { Description = "Generated videos per round.", DefaultValueFactory = _ => 4 };
        var seconds = new Option<int>("--seconds") { Description = "Length of each video.", DefaultValueFactory = _ => 8 };
        var size = new Option<string>("--size") { Description = "Frame size WxH of the videos (short-video uploads are 720p or 1080p).", DefaultValueFactory = _ => "1280x720" };
        var concurrency = new Option<int>("--concurrency") { Description = "Videos in flight at once (both sides); 0 = the core count.", DefaultValueFactory = _ => 0 };
        var rounds = new Option<int>("--rounds") { Description = "Interleaved rounds; the ratio is the median of the rounds' ratios.", DefaultValueFactory = _ => 3 };
        var device = new Option<InferenceDevice>("--device") { Description = "auto, cuda or cpu.", DefaultValueFactory = _ => InferenceDevice.Auto };
        var command = new Command("video", "Video screening (frames, PDQ, bank, batched model) vs ffmpeg decoding the sampled frames alone");
        foreach (var option in new Option[] { videos, seconds, size, concurrency, rounds, device }) command.Options.Add(option);
        command.SetAction(async (parse, ct) =>
        {
            var dims = (parse.GetValue(size) ?? "").Split('x');
            if (dims.Length != 2 || !int.TryParse(dims[0], out int w) || !int.TryParse(dims[1], out int h) || w < 16 || h < 16 || parse.GetValue(videos) < 1 || parse.GetValue(seconds) < 1)
            {
                Console.Error.WriteLine("moderation bench video: --size must be WxH (at least 16x16), --videos and --seconds at least 1");
                return ExitCodes.Usage;
            }
            int c = parse.GetValue(concurrency) is > 0 and var n ? n : Environment.ProcessorCount;
            try
            {
                return await RunAsync(parse.GetValue(videos), parse.GetValue(seconds), w, h, c, Math.Max(1, parse.GetValue(rounds)), parse.GetValue(device), ct);
            }
            catch (Exception e) when (e is ModerationException or ExecutionProviderUnavailableException or FileNotFoundException)
            {
                Console.Error.WriteLine($"moderation bench video: {e.Message}");
                return ExitCodes.Failure;
            }
        });
        return command;
    }

    private static async Task<int> RunAsync(int count, int seconds, int width, int height, int concurrency, int rounds, InferenceDevice device, CancellationToken ct)
    {
        var folder = Directory.CreateTempSubdirectory("bench-video-");
        try
        {
            var watch = Stopwatch.StartNew();
            string[] sources = ["testsrc2", "mandelbrot", "life=mold=10:ratio=0.5:death_color=#C83232:life_color=#00ff00", "smptehdbars", "rgbtestsrc", "cellauto=rule=110"];
            var videos = new List<byte[]>();
            for (int i = 0; i < count; i++)
            {
                var path = Path.Combine(folder.FullName, $"v{i}.mp4");
                var source = sources[i % sources.Length];
                var filter = $"{source}{(source.Contains('=') ? ":" : "=")}size={width}x{height}:rate=30";
                await MakeAsync(ct, "-f", "lavfi", "-i", filter, "-t", seconds.ToString(CultureInfo.InvariantCulture),
                    "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", path);
                videos.Add(await File.ReadAllBytesAsync(path, ct));
            }
            Console.WriteLine($"{count} videos of {seconds} s at {width}x{height} 30 fps (H.264, {videos.Sum(v => v.Length) / 1024 / 1024.0:0.0} MiB) generated in {watch.Elapsed.TotalSeconds:0.0} s");

            var limits = new VideoLimits();
            using var classifier = OnnxImageClassifier.Load(options: new ClassifierOptions { Device = device });
            await using var batcher = new DynamicBatcher(classifier, new DynamicBatcherOptions { MaxBatchSize = classifier.IsCuda ? 64 : 16 });
            var random = new Random(12);
            var bank = new BankIndex(Enumerable.Range(0, 10_000).Select(i => new BankEntry("bench", $"e{i}",
                new PdqHash((ulong)random.NextInt64(), (ulong)random.NextInt64(), (ulong)random.NextInt64(), (ulong)random.NextInt64()), 90, null, null, DateTimeOffset.UnixEpoch)));
            using var screener = new VideoScreener(limits,
                new ScreenerServices { Batcher = batcher, Stats = new ScreeningStats(), Logger = NullLogger.Instance }, () => bank);
            using var decoder = new VideoDecoder(limits);
            Console.WriteLine($"model {classifier.Model.VersionedName} on {(classifier.IsCuda ? "CUDA" : "CPU")}, {concurrency} videos in flight, {Environment.ProcessorCount} cores");

            long frames = 0;
            async Task<double> DecodeAll()
            {
                var t = Stopwatch.StartNew();
                long seen = 0;
                await Parallel.ForEachAsync(videos, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = ct }, async (v, token) =>
                    Interlocked.Add(ref seen, (await decoder.SampleAsync(v, null, token)).Frames.Count));
                frames = seen;
                return t.Elapsed.TotalSeconds;
            }
            async Task<double> ScreenAll()
            {
                var t = Stopwatch.StartNew();
                var source = new SourceInfo("bench", 0, 0);
                await Parallel.ForEachAsync(videos.Select((v, i) => (v, i)), new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = ct }, async (x, token) =>
                {
                    var result = await screener.ScreenAsync($"v{x.i}", x.v, null, Policy.Default, null, source, Stopwatch.GetTimestamp(), token);
                    if (result.Decision is null) throw new InvalidOperationException("unscreenable: " + result.Failure?.Message);
                });
                return t.Elapsed.TotalSeconds;
            }

            await DecodeAll();
            await ScreenAll(); // warm-up: first ffmpeg start, model warm-up, JIT
            var ratios = new List<double>();
            Console.WriteLine("round  decode-only  frames/s  videos/s | screening  frames/s  videos/s | ratio");
            for (int r = 0; r < rounds; r++)
            {
                double decode = await DecodeAll();
                double screen = await ScreenAll();
                ratios.Add(decode / screen);
                Console.WriteLine(FormattableString.Invariant(
                    $"{r + 1,5}  {decode,9:0.00} s  {frames / decode,8:0.0}  {count / decode,8:0.00} | {screen,7:0.00} s  {frames / screen,8:0.0}  {count / screen,8:0.00} | {decode / screen:0.00}"));
            }
            Console.WriteLine($"{frames} frames sampled per round ({frames / (double)count:0.#} per video); batches {batcher.Batches}, images {batcher.Images} ({batcher.Images / (double)Math.Max(1, batcher.Batches):0.0} per batch)");
            ratios.Sort();
            var report = new BenchReport();
            report.Ratio("video_screening_vs_decoding", ratios[ratios.Count / 2], 0.8);
            return report.Print(Console.Out);
        }
        finally
        {
            try { folder.Delete(recursive: true); } catch (IOException) { }
        }
    }

    private static async Task MakeAsync(CancellationToken ct, params string[] args)
    {
        var psi = new ProcessStartInfo("ffmpeg") { RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-hide_banner", "-nostdin", "-v", "error", "-y" }.Concat(args)) psi.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(psi)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new ModerationException(ErrorCodes.Internal, $"ffmpeg is needed to generate the videos: {e.Message}");
        }
        using (process)
        {
            var stderr = await process.StandardError.ReadToEndAsync(ct);
            await process.WaitForExitAsync(ct);
            if (process.ExitCode != 0) throw new ModerationException(ErrorCodes.Internal, $"ffmpeg could not generate a video: {stderr.Trim()}");
        }
    }
}
