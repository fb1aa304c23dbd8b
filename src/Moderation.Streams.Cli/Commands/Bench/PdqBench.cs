using System.CommandLine;
using System.Diagnostics;
using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing;
using Moderation.Streams.Media;
using SkiaSharp;

namespace Moderation.Streams.Cli.Commands.Bench;

/// <summary>
/// <c>bench pdq</c>: single-thread PDQ throughput, decode included, on 1080x1920 JPEGs and on the PDQ vectors.
/// Baseline in the same run: our reference-equivalent path (full decode, byte-identical to the reference's
/// ImageMagick pixels, RGB copy, hash). Fast path: <see cref="PdqDecoder"/> (JPEG DCT scaling while both sides
/// stay &gt;= 512, pixels hashed in place). Prints how many bits the fast path moves against the full decode
/// (histogram). With <c>--reference PATH</c> (Meta's <c>pdq-photo-hasher</c>), runs that binary and our own
/// <c>moderation hash</c> as processes, start-up included, pinned to one core, on the same generated files, and
/// prints their ratio and the bits between their hashes (<see cref="ReferenceRun"/>); without it the reference is
/// not measured and no ratio against it is printed.
/// </summary>
internal static class PdqBench
{
    public static Command Create()
    {
        var seconds = new Option<double>("--seconds") { Description = "Time spent on each measured in-process path", DefaultValueFactory = _ => 4 };
        seconds.Validators.Add(r => { if (r.GetValueOrDefault<double>() is not (> 0 and <= 600)) r.AddError("--seconds must be more than 0 and at most 600"); });
        var vectors = new Option<DirectoryInfo?>("--vectors") { Description = "PDQ vectors folder (default: ../shared/pdq-vectors above the repository)" };
        var reference = new Option<FileInfo?>("--reference")
        {
            Description = "Meta's pdq-photo-hasher binary: run it and `moderation hash` side by side (processes, start-up included, one pinned core) " +
                          "on the same generated JPEGs, and print RATIO hash_vs_reference",
        };
        reference.Validators.Add(r => { if (r.GetValueOrDefault<FileInfo?>() is { Exists: false } f) r.AddError($"--reference: no such file: {f.FullName}"); });
        var images = new Option<int>("--images") { Description = "Distinct 1080x1920 JPEGs generated for the side-by-side run", DefaultValueFactory = _ => 60 };
        images.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > 1000) r.AddError("--images must be 1 to 1000"); });
        var repeat = new Option<int>("--repeat") { Description = "Runs of each side, alternating; the median run counts", DefaultValueFactory = _ => 3 };
        repeat.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > 20) r.AddError("--repeat must be 1 to 20"); });
        var core = new Option<int>("--core") { Description = "CPU both sides are pinned to (taskset -c)", DefaultValueFactory = _ => 0 };
        core.Validators.Add(r => { if (r.GetValueOrDefault<int>() < 0 || r.GetValueOrDefault<int>() >= Environment.ProcessorCount) r.AddError($"--core must be 0 to {Environment.ProcessorCount - 1}"); });
        var command = new Command("pdq", "PDQ images/s, decode included: fast path vs full decode (same run); with --reference, `moderation hash` vs Meta's pdq-photo-hasher, side by side.")
        {
            seconds, vectors, reference, images, repeat, core,
        };
        command.SetAction(parse => Run(parse.GetValue(seconds), parse.GetValue(vectors) ?? FindVectors(), parse.GetValue(reference),
            parse.GetValue(images), parse.GetValue(repeat), parse.GetValue(core), Console.Out));
        return command;
    }

    private static int Run(double seconds, DirectoryInfo? vectors, FileInfo? referenceBinary, int imageCount, int repeat, int core, TextWriter output)
    {
        var jpegs = BenchJpegs(vectors, imageCount);
        var sample = jpegs.Take(10).ToList();
        output.WriteLine($"images: {jpegs.Count} distinct JPEGs of 1080x1920 (q80-q95; {(vectors is null ? "generated pictures" : "the PDQ vectors' photos, cropped and stretched")}); in-process paths on the first {sample.Count}, single thread");
        var hasher = new PdqHasher();
        var decoder = new PdqDecoder();
        var smallest = new PdqDecoder(minScaledSide: 1);

        // Bits moved against the full (reference-equivalent) decode.
        var moved = new List<int>();
        var movedSmallest = new List<int>();
        foreach (var jpeg in jpegs)
        {
            var whole = ImageDecoder.Decode(jpeg);
            var exact = hasher.Hash(whole.Pixels, whole.Width, whole.Height, whole.Channels);
            var fast = decoder.Decode(jpeg);
            moved.Add(PdqHash.Distance(exact.Hash, hasher.HashDecoded(fast.Pixels, fast.Width, fast.Height, fast.Channels).Hash));
            var tiny = smallest.Decode(jpeg);
            movedSmallest.Add(PdqHash.Distance(exact.Hash, hasher.HashDecoded(tiny.Pixels, tiny.Width, tiny.Height, tiny.Channels).Hash));
        }
        output.WriteLine($"bits moved by the fast path (1/2 scale, sides >= 512) vs full decode: {Histogram(moved)}");
        output.WriteLine($"bits moved at the smallest scale (1/8, not used):                      {Histogram(movedSmallest)}");

        double full = Rate(sample, seconds, jpeg =>
        {
            var image = ImageDecoder.Decode(jpeg);
            hasher.Hash(image.Pixels, image.Width, image.Height, image.Channels);
        });
        double fastRate = Rate(sample, seconds, jpeg =>
        {
            var p = decoder.Decode(jpeg);
            hasher.HashDecoded(p.Pixels, p.Width, p.Height, p.Channels);
        });
        // The worker's path and `hash`'s: ImageDecoder with JpegScaleMinSide=512 (same scale as the fast path), RGB copy, hash.
        var workerLimits = new MediaOptions().Decode;
        double workerRate = Rate(sample, seconds, jpeg =>
        {
            var image = ImageDecoder.Decode(jpeg, workerLimits);
            hasher.Hash(image.Pixels, image.Width, image.Height, image.Channels);
        });
        var decoded = ImageDecoder.Decode(jpegs[0]);
        double hashOnly = Rate([[]], seconds / 2, _ => hasher.Hash(decoded.Pixels, decoded.Width, decoded.Height, decoded.Channels));
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++)
        {
            var p = decoder.Decode(jpegs[i % jpegs.Count]);
            hasher.HashDecoded(p.Pixels, p.Width, p.Height, p.Channels);
        }
        long perImage = (GC.GetAllocatedBytesForCurrentThread() - allocated) / 20;
        output.WriteLine(FormattableString.Invariant($"1080x1920 JPEG, full decode + hash (baseline): {full:0.0} images/s"));
        output.WriteLine(FormattableString.Invariant($"1080x1920 JPEG, fast path:                    {fastRate:0.0} images/s ({perImage} managed bytes allocated per image)"));
        output.WriteLine(FormattableString.Invariant($"1080x1920 JPEG, worker and `hash` path:       {workerRate:0.0} images/s (ImageDecoder, scaled; decoded image shared with the classifier)"));
        output.WriteLine(FormattableString.Invariant($"hash only (1080x1920 pixels in memory):       {hashOnly:0.0} images/s"));

        if (vectors is not null)
        {
            var files = Directory.GetFiles(Path.Combine(vectors.FullName, "data"), "*", SearchOption.AllDirectories)
                .Where(f => f.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal).ToList();
            var expected = File.ReadAllLines(Path.Combine(vectors.FullName, "expected", "reference-hashes.csv")).Skip(1)
                .Select(l => l.Split(',')).ToDictionary(f => f[0], f => PdqHash.Parse(f[1]));
            var bytes = new List<byte[]>();
            var distances = new List<int>();
            foreach (var file in files)
            {
                var data = File.ReadAllBytes(file);
                try
                {
                    var p = decoder.Decode(data);
                    var h = hasher.HashDecoded(p.Pixels, p.Width, p.Height, p.Channels);
                    bytes.Add(data);
                    if (expected.TryGetValue(Path.GetRelativePath(Path.Combine(vectors.FullName, "data"), file).Replace('\\', '/'), out var known))
                        distances.Add(PdqHash.Distance(known, h.Hash));
                }
                catch (ModerationException)
                {
                    // 16-bit and other images our decoder refuses are left out, as in the vector tests.
                }
            }
            double vectorRate = Rate(bytes, seconds / 2, data =>
            {
                var p = decoder.Decode(data);
                hasher.HashDecoded(p.Pixels, p.Width, p.Height, p.Channels);
            });
            output.WriteLine(FormattableString.Invariant($"PDQ vectors ({bytes.Count} images, 34x42 to 1600x1004), fast path: {vectorRate:0.0} images/s; bits from the reference's hashes: {Histogram(distances)}"));
        }

        var report = new BenchReport();
        report.Ratio("pdq_fast_vs_full_decode", fastRate / full, 1.5);
        report.Ratio("pdq_worker_path_vs_full_decode", workerRate / full, 1.5);
        if (referenceBinary is null)
        {
            output.WriteLine("Meta's reference: not measured (pass --reference PATH to its pdq-photo-hasher binary to run it side by side)");
        }
        else
        {
            double? ratio = ReferenceRun.Compare(referenceBinary.FullName, jpegs, repeat, core, output);
            if (ratio is null) return ExitCodes.Failure;
            report.Ratio("hash_vs_reference", ratio.Value, 3);
        }
        return report.Print(output);
    }

    private static double Rate(List<byte[]> inputs, double seconds, Action<byte[]> work)
    {
        foreach (var input in inputs.Take(3)) work(input); // warm up
        var timer = Stopwatch.StartNew();
        long done = 0;
        while (timer.Elapsed.TotalSeconds < seconds)
        {
            foreach (var input in inputs) work(input);
            done += inputs.Count;
        }
        return done / timer.Elapsed.TotalSeconds;
    }

    private static string Histogram(List<int> values)
    {
        if (values.Count == 0) return "(none)";
        var parts = values.GroupBy(v => v).OrderBy(g => g.Key).Select(g => $"{g.Key}:{g.Count()}");
        return $"{string.Join(" ", parts)} (bits:images; max {values.Max()}, mean {values.Average():0.0})";
    }

    /// <summary>
    /// <paramref name="count"/> distinct 1080x1920 JPEGs (q80, 85, 90, 95 in turn). With the vectors: their photos
    /// (the bridge, its edits, the labelme subset, the PNG photos), each round cropped a little differently, stretched
    /// to 1080x1920; without: generated pictures.
    /// </summary>
    private static List<byte[]> BenchJpegs(DirectoryInfo? vectors, int count)
    {
        var sources = new List<SKBitmap>();
        if (vectors is not null)
        {
            foreach (var path in new[]
                     {
                         "data/reg-test-input/dih/bridge-1-original.jpg", "data/misc-images/c.png", "data/reg-test-input/pen-and-coaster.png",
                         "data/reg-test-input/dih/bridge-2-rotate-90.jpg", "data/bridge-mods/high-contrast.jpg", "data/reg-test-input/labelme-subset/q2821.jpg",
                         "data/reg-test-input/labelme-subset/q0122.jpg", "data/reg-test-input/labelme-subset/q0291.jpg", "data/reg-test-input/labelme-subset/q0746.jpg",
                         "data/reg-test-input/labelme-subset/q1050.jpg", "data/bridge-mods/high-saturation.jpg", "data/reg-test-input/dih/bridge-5-flipx.jpg",
                     })
            {
                var file = Path.Combine(vectors.FullName, path);
                if (File.Exists(file) && SKBitmap.Decode(file) is { } bitmap) sources.Add(bitmap);
            }
        }
        if (sources.Count == 0)
        {
            for (int seed = 500; sources.Count < Math.Min(count, 10); seed++) sources.Add(SampleImages.Render(seed, 1080, 1920));
        }
        var jpegs = new List<byte[]>();
        int[] qualities = [80, 85, 90, 95];
        for (int i = 0; i < count; i++)
        {
            var source = sources[i % sources.Count];
            int round = i / sources.Count;
            // Round 0 takes the whole picture; later rounds a window of 80-96% of each side, moved about the picture.
            float keep = round == 0 ? 1f : 0.8f + 0.16f * ((round * 7) % 11) / 10f;
            float left = (1 - keep) * ((round * 3) % 5) / 4f, top = (1 - keep) * ((round * 2) % 5) / 4f;
            var crop = new SKRect(left * source.Width, top * source.Height, (left + keep) * source.Width, (top + keep) * source.Height);
            using var canvasBitmap = new SKBitmap(new SKImageInfo(1080, 1920, SKColorType.Rgba8888, SKAlphaType.Opaque));
            using (var canvas = new SKCanvas(canvasBitmap))
            using (var image = SKImage.FromBitmap(source))
                canvas.DrawImage(image, crop, new SKRect(0, 0, 1080, 1920), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
            jpegs.Add(SampleImages.Encode(canvasBitmap, SKEncodedImageFormat.Jpeg, qualities[i % qualities.Length]));
        }
        foreach (var source in sources) source.Dispose();
        return jpegs;
    }

    private static DirectoryInfo? FindVectors()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "..", "shared", "pdq-vectors");
            if (File.Exists(Path.Combine(dir.FullName, "Moderation.Streams.sln")) && Directory.Exists(candidate)) return new DirectoryInfo(candidate);
        }
        return null;
    }
}
