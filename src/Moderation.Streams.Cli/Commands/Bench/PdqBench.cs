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
/// (histogram), and the ratio against Meta's C++ reference hasher's documented speed on this class of machine.
/// </summary>
internal static class PdqBench
{
    /// <summary>Meta's pdq-photo-hasher on 1080x1920 JPEGs, one core of this machine: 8-10 images/s (documented, not measured here).</summary>
    private const double ReferenceImagesPerSecond = 9;

    public static Command Create()
    {
        var seconds = new Option<double>("--seconds") { Description = "Time spent on each measured path", DefaultValueFactory = _ => 4 };
        var vectors = new Option<DirectoryInfo?>("--vectors") { Description = "PDQ vectors folder (default: ../shared/pdq-vectors above the repository)" };
        var command = new Command("pdq", "PDQ images/s, decode included, fast path vs full decode (same run) and vs the C++ reference's documented speed.")
        {
            seconds, vectors,
        };
        command.SetAction(parse => Run(parse.GetValue(seconds), parse.GetValue(vectors) ?? FindVectors(), Console.Out));
        return command;
    }

    private static int Run(double seconds, DirectoryInfo? vectors, TextWriter output)
    {
        var jpegs = BenchJpegs(vectors);
        output.WriteLine($"images: {jpegs.Count} JPEGs of 1080x1920 (q80-q95; photos from the PDQ vectors stretched, and generated pictures), single thread");
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

        double full = Rate(jpegs, seconds, jpeg =>
        {
            var image = ImageDecoder.Decode(jpeg);
            hasher.Hash(image.Pixels, image.Width, image.Height, image.Channels);
        });
        double fastRate = Rate(jpegs, seconds, jpeg =>
        {
            var p = decoder.Decode(jpeg);
            hasher.HashDecoded(p.Pixels, p.Width, p.Height, p.Channels);
        });
        // The worker's path: ImageDecoder with Media:Decode:JpegScaleMinSide=512 (same scale as the fast path), RGB copy, hash.
        var workerLimits = new MediaOptions().Decode;
        double workerRate = Rate(jpegs, seconds, jpeg =>
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
        output.WriteLine(FormattableString.Invariant($"1080x1920 JPEG, worker path (scaled decode):  {workerRate:0.0} images/s (decoded image shared with the classifier)"));
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
                    if (expected.TryGetValue(Path.GetRelativePath(Path.Combine(vectors.FullName, "data"), file).Replace('\\', '/'), out var reference))
                        distances.Add(PdqHash.Distance(reference, h.Hash));
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
        report.Ratio("pdq_vs_reference_cpp_documented", fastRate / ReferenceImagesPerSecond, 3);
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

    private static List<byte[]> BenchJpegs(DirectoryInfo? vectors)
    {
        var sources = new List<SKBitmap>();
        if (vectors is not null)
        {
            foreach (var path in new[] { "data/reg-test-input/dih/bridge-1-original.jpg", "data/misc-images/c.png", "data/reg-test-input/pen-and-coaster.png", "data/reg-test-input/dih/bridge-2-rotate-90.jpg", "data/bridge-mods/high-contrast.jpg", "data/reg-test-input/labelme-subset/q2821.jpg" })
            {
                var file = Path.Combine(vectors.FullName, path);
                if (File.Exists(file)) sources.Add(SKBitmap.Decode(file));
            }
        }
        for (int seed = 500; sources.Count < 10; seed++) sources.Add(SampleImages.Render(seed, 1080, 1920));
        var jpegs = new List<byte[]>();
        int[] qualities = [80, 85, 90, 95];
        for (int i = 0; i < sources.Count; i++)
        {
            using var canvasBitmap = new SKBitmap(new SKImageInfo(1080, 1920, SKColorType.Rgba8888, SKAlphaType.Opaque));
            using (var canvas = new SKCanvas(canvasBitmap))
            using (var image = SKImage.FromBitmap(sources[i]))
                canvas.DrawImage(image, new SKRect(0, 0, 1080, 1920), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
            jpegs.Add(SampleImages.Encode(canvasBitmap, SKEncodedImageFormat.Jpeg, qualities[i % qualities.Length]));
            sources[i].Dispose();
        }
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
