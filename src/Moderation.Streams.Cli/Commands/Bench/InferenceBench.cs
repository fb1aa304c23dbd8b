using System.CommandLine;
using System.Diagnostics;
using Moderation.Streams.Inference;
using Moderation.Streams.Media;

namespace Moderation.Streams.Cli.Commands.Bench;

/// <summary>
/// <c>moderation bench inference</c>: in one run, on decoded 640×480 images (preprocessing included, decode
/// not): direct classifier calls at each static batch size (the best one is the baseline), the dynamic
/// batcher fed by many concurrent single-image callers, unbatched per-image calls, and p50/p99 latency
/// through the batcher at half its measured throughput; then the ratios. With <c>--precision fp16</c> or <c>int8</c> each
/// round also times the float32 model at the same static batch (the fp16/fp32 or int8/fp32 ratio).
/// </summary>
internal static class InferenceBench
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model to run.", DefaultValueFactory = _ => ModelRegistry.DefaultModelName };
        var device = new Option<InferenceDevice>("--device") { Description = "auto, cuda or cpu.", DefaultValueFactory = _ => InferenceDevice.Auto };
        var precision = new Option<InferencePrecision>("--precision")
        {
            Description = "fp32, fp16 (the model's float16 variant, meant for CUDA; on the CPU it is slower, and auto falling back to the CPU runs fp32) " +
                          "or int8 (the model's int8 QDQ variant, for the CPU; always runs there). fp16 and int8 also time fp32 in every round for the ratio.",
            DefaultValueFactory = _ => InferencePrecision.Fp32,
        };
        var seconds = new Option<double>("--seconds") { Description = "Length of each measurement.", DefaultValueFactory = _ => 3 };
        var maxBatch = new Option<int>("--max-batch") { Description = "Largest static batch and the batcher's MaxBatchSize; 0 = 16 on the CPU, 64 on CUDA.", DefaultValueFactory = _ => 0 };
        var concurrent = new Option<int>("--concurrent-batches") { Description = "Batches in flight; 0 = 1 on the CPU, 2 on CUDA.", DefaultValueFactory = _ => 0 };
        var delay = new Option<double>("--max-queue-delay-ms") { Description = "The batcher's MaxQueueDelay.", DefaultValueFactory = _ => 5 };
        var rounds = new Option<int>("--rounds") { Description = "Interleaved rounds of baseline / unbatched / batcher; ratios are the median of the rounds' ratios (shared machines are noisy).", DefaultValueFactory = _ => 3 };
        var callers = new Option<int>("--callers") { Description = "Concurrent single-image callers feeding the batcher; 0 = 4 × max batch × concurrent batches (at least 32).", DefaultValueFactory = _ => 0 };
        var pinnedInput = new Option<bool>("--cuda-pinned-input") { Description = "On CUDA, preprocess into page-locked host memory (Inference:CudaPinnedInput); the other setting is timed in the same rounds." };
        var logPlacement = new Option<bool>("--log-placement") { Description = "Log ONNX Runtime's verbose session creation to stderr once, with the execution provider of each node (\"placed on [CUDAExecutionProvider]\")." };
        var command = new Command("inference", "Dynamic batcher vs direct ONNX Runtime calls at their best static batch, unbatched calls, latency at half load");
        foreach (var option in new Option[] { model, device, precision, seconds, maxBatch, concurrent, delay, rounds, callers, pinnedInput, logPlacement }) command.Options.Add(option);
        command.SetAction(parse =>
        {
            string modelName = parse.GetValue(model)!;
            if (ModelRegistry.DescribeUnusable(modelName, parse.GetValue(precision)) is { } unusable)
            {
                Console.Error.WriteLine($"moderation bench inference: {unusable}");
                return ExitCodes.Usage;
            }
            try
            {
                return Run(modelName, parse.GetValue(device), parse.GetValue(precision), TimeSpan.FromSeconds(parse.GetValue(seconds)), parse.GetValue(maxBatch),
                    parse.GetValue(concurrent), TimeSpan.FromMilliseconds(parse.GetValue(delay)), Math.Max(1, parse.GetValue(rounds)),
                    parse.GetValue(callers), parse.GetValue(pinnedInput), parse.GetValue(logPlacement));
            }
            catch (ExecutionProviderUnavailableException e)
            {
                Console.Error.WriteLine($"moderation bench inference: {e.Message}");
                return ExitCodes.Failure;
            }
        });
        return command;
    }

    private static int Run(string modelName, InferenceDevice device, InferencePrecision precision, TimeSpan window, int maxBatch, int concurrent, TimeSpan delay, int rounds,
        int callers, bool pinnedInput, bool logPlacement)
    {
        bool probablyGpu = device != InferenceDevice.Cpu;
        var started = Stopwatch.StartNew();
        using var probe = OnnxImageClassifier.Load(modelName, options: new ClassifierOptions { Device = device, Precision = precision, WarmUp = false, LogNodePlacement = logPlacement });
        bool cuda = probe.IsCuda;
        probe.Dispose();
        if (maxBatch <= 0) maxBatch = cuda ? 64 : 16;
        if (concurrent <= 0) concurrent = cuda ? 2 : 1;
        var classifierOptions = new ClassifierOptions
        {
            Device = device,
            Precision = precision,
            MaxBatchSize = maxBatch,
            ConcurrentRuns = concurrent,
            CudaPinnedInput = pinnedInput,
        };
        using var classifier = OnnxImageClassifier.Load(modelName, options: classifierOptions);
        // fp16 and int8 are measured against fp32 on the same device in the same rounds.
        using var fp32 = classifier.Precision != InferencePrecision.Fp32
            ? OnnxImageClassifier.Load(modelName, options: classifierOptions with { Device = cuda ? InferenceDevice.Cuda : InferenceDevice.Cpu, Precision = InferencePrecision.Fp32 })
            : null;
        // On CUDA, page-locked against pageable input memory, timed in the same rounds (the GPU's copy engine decides).
        using var otherHost = cuda ? OnnxImageClassifier.Load(modelName, options: classifierOptions with { Device = InferenceDevice.Cuda, CudaPinnedInput = !pinnedInput }) : null;
        var images = Enumerable.Range(0, 64).Select(i => ImageDecoder.Decode(SampleImages.Jpeg(i, 640, 480))).ToArray();
        Console.WriteLine($"model {classifier.Model.VersionedName}  device {classifier.Device}  cores {Environment.ProcessorCount}  " +
                          $"intra-op threads {classifier.Options.ResolveIntraOpThreads()}  buckets {(classifier.BatchBuckets is { } b ? string.Join(",", b) : "exact")}  " +
                          $"load+warm-up {started.Elapsed.TotalSeconds:0.0} s");
        if (classifier.DeviceFallbackReason is { } reason) Console.WriteLine($"CPU FALLBACK (device=auto): {reason}");
        if (otherHost is not null) Console.WriteLine($"input memory: {classifier.HostMemory}; also timed in every round: {otherHost.HostMemory}");
        if (probablyGpu && !cuda) Console.WriteLine("note: CUDA was not used: these are CPU numbers");
        string variant = classifier.Precision.ToString().ToLowerInvariant();
        if (fp32 is not null)
            Console.WriteLine($"{variant} vs {fp32.Model.VersionedName} on {fp32.Device} in every round" +
                              (cuda || classifier.Precision != InferencePrecision.Fp16 ? "" : "; note: ONNX Runtime's CPU provider runs most fp16 nodes through inserted casts, so fp16 is expected to be slower here"));
        Console.WriteLine("images: 64 decoded 640x480 JPEGs; every figure includes preprocessing (resize + normalise), not decoding");

        // Preprocessing alone, one core: the vector path against the scalar reference it matches bit for bit.
        var tensor = new float[classifier.Model.InputSize * classifier.Model.InputSize * 3];
        double PreprocessRate(Action<DecodedImage, int, Span<float>> write) => Measure(window / 3, 1, _ =>
        {
            int n = 0;
            foreach (var image in images) { write(image, classifier.Model.InputSize, tensor); n++; }
            return n;
        });
        double scalarPrep = PreprocessRate(Preprocessor.WriteScalar);
        double prepPerSecond = PreprocessRate(Preprocessor.Write);
        Console.WriteLine($"preprocessing alone (1 thread), scalar    {scalarPrep,9:0} images/s  ({1000 / scalarPrep:0.000} ms/image)");
        Console.WriteLine($"preprocessing alone (1 thread){(Preprocessor.VectorPathSupported ? ", AVX2  " : ", scalar")}    {prepPerSecond,9:0} images/s  ({1000 / prepPerSecond:0.000} ms/image)");
        Console.WriteLine($"RATIO preprocess_vector_vs_scalar {prepPerSecond / scalarPrep:0.000}");

        // Direct calls of `model` at a static batch size, `concurrent` callers, each its own slice of the images.
        double Direct(OnnxImageClassifier model, int size) => Measure(window, concurrent, worker =>
        {
            var batch = new DecodedImage[size];
            for (int i = 0; i < size; i++) batch[i] = images[(worker * 7 + i) % images.Length];
            model.Classify(batch);
            return size;
        });

        // 1. Direct calls at each static batch size, `concurrent` callers: the best one is the baseline.
        var sizes = new List<int>();
        for (int s = 1; s <= maxBatch; s *= 2) sizes.Add(s);
        if (sizes[^1] != maxBatch) sizes.Add(maxBatch);
        double best = 0;
        int bestSize = 1;
        foreach (int size in sizes)
        {
            double rate = Direct(classifier, size);
            Console.WriteLine($"direct, static batch {size,3} x{concurrent} callers   {rate,9:0} images/s");
            if (rate > best) (best, bestSize) = (rate, size);
        }
        Console.WriteLine($"baseline: direct calls at static batch {bestSize}: {best:0} images/s");

        // 2-3. Interleaved rounds: direct calls at the best static batch (baseline), unbatched per-image calls, and
        //      the batcher fed by many concurrent single-image callers. Its MaxBatchSize is the best static batch
        //      (Triton's "preferred batch size"): on a CPU a bigger batch is not faster per image.
        if (callers <= 0) callers = Math.Max(4 * maxBatch * concurrent, 32);
        var options = new DynamicBatcherOptions { MaxBatchSize = bestSize, MaxQueueDelay = delay, MaxQueued = 4 * callers, ConcurrentBatches = concurrent };
        Console.WriteLine($"batcher: MaxBatchSize {bestSize} (the best static batch), MaxQueueDelay {delay.TotalMilliseconds} ms, " +
                          $"{concurrent} concurrent batches, {callers} single-image callers; {rounds} interleaved rounds");
        var vsRaw = new List<double>();
        var vsUnbatched = new List<double>();
        var rawVsUnbatched = new List<double>();
        var variantVsFp32 = new List<double>();
        var pinnedVsPageable = new List<double>();
        var batcherRates = new List<double>();
        for (int round = 1; round <= rounds; round++)
        {
            double raw = Direct(classifier, bestSize);
            double unbatched = Measure(window, concurrent, worker => classifier.Classify([images[worker % images.Length]]).Count);
            double raw32 = fp32 is null ? 0 : Direct(fp32, bestSize);
            double rawOther = otherHost is null ? 0 : Direct(otherHost, bestSize);
            if (otherHost is not null) pinnedVsPageable.Add(pinnedInput ? raw / rawOther : rawOther / raw);
            double bytesPerImage, meanBatch, rate;
            {
                using var batcher = new DisposableBatcher(classifier, options);
                DriveClosedLoop(batcher.Batcher, images, callers, window / 4); // warm-up
                long batchesBefore = batcher.Batcher.Batches, imagesBefore = batcher.Batcher.Images;
                long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
                rate = DriveClosedLoop(batcher.Batcher, images, callers, window);
                long done = batcher.Batcher.Images - imagesBefore;
                bytesPerImage = (GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / (double)Math.Max(1, done);
                meanBatch = done / (double)Math.Max(1, batcher.Batcher.Batches - batchesBefore);
            }
            batcherRates.Add(rate);
            Console.WriteLine($"round {round}: raw@{bestSize} {raw,7:0} | unbatched {unbatched,7:0} | batcher {rate,7:0} images/s " +
                              $"(mean batch {meanBatch:0.0}, {bytesPerImage:0} managed bytes allocated/image)" +
                              (fp32 is null ? "" : $" | fp32 raw@{bestSize} {raw32,7:0}") +
                              (otherHost is null ? "" : $" | {(pinnedInput ? "pageable" : "pinned")} raw@{bestSize} {rawOther,7:0}"));
            if (fp32 is not null) variantVsFp32.Add(raw / raw32);
            vsRaw.Add(rate / raw);
            vsUnbatched.Add(rate / unbatched);
            rawVsUnbatched.Add(raw / unbatched);
        }

        // 4. Latency at half load: open-loop arrivals at half the batcher's throughput.
        double batched = Median(batcherRates);
        var (p50, p99, offered, achieved) = LatencyAtRate(classifier, options, images, batched / 2, window);
        Console.WriteLine($"latency at half load ({offered:0} images/s offered, {achieved:0} done)  p50 {p50:0.0} ms  p99 {p99:0.0} ms");

        var report = new BenchReport();
        report.Ratio("inference_batcher_vs_raw_best", Median(vsRaw), 0.9);
        report.Ratio("inference_batcher_vs_unbatched", Median(vsUnbatched), 1.0);
        report.Ratio("inference_raw_best_vs_unbatched", Median(rawVsUnbatched), 1.0);
        // fp16 exists to be faster on CUDA; on the CPU it is for parity checks, so no goal there. int8 exists to be faster
        // on the CPU (issue 17: at least 1.8x fp32 images/s).
        if (fp32 is not null && classifier.Precision == InferencePrecision.Fp16)
            report.Ratio(cuda ? "inference_fp16_vs_fp32_cuda" : "inference_fp16_vs_fp32_cpu", Median(variantVsFp32), cuda ? 1.0 : 0);
        if (fp32 is not null && classifier.Precision == InferencePrecision.Int8) report.Ratio("int8_vs_fp32", Median(variantVsFp32), 1.8);
        // Page-locked input exists to copy faster; no goal until a GPU run says what it buys.
        if (otherHost is not null) report.Ratio("inference_cuda_pinned_vs_pageable_input", Median(pinnedVsPageable), 0);
        if (cuda && modelName == ModelRegistry.DefaultModelName) report.Ratio("inference_cuda_batcher_vs_5000_per_s", batched / 5000, 1.0);
        return report.Print(Console.Out);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>Images/s of <paramref name="workers"/> threads each calling <paramref name="once"/> (returns images done) for the
    /// window, after one warm call each (the stages of <c>bench e2e</c> are measured the same way).</summary>
    internal static double Measure(TimeSpan window, int workers, Func<int, int> once)
    {
        for (int w = 0; w < workers; w++) once(w); // warm
        long total = 0;
        var clock = Stopwatch.StartNew();
        var threads = Enumerable.Range(0, workers).Select(w => new Thread(() =>
        {
            long mine = 0;
            while (clock.Elapsed < window) mine += once(w);
            Interlocked.Add(ref total, mine);
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        return total / clock.Elapsed.TotalSeconds;
    }

    private static double DriveClosedLoop(DynamicBatcher batcher, DecodedImage[] images, int callers, TimeSpan window)
    {
        long done = 0;
        var clock = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, callers).Select(c => Task.Run(async () =>
        {
            long mine = 0;
            for (int i = c; clock.Elapsed < window; i += callers)
            {
                await batcher.ClassifyAsync(images[i % images.Length]).ConfigureAwait(false);
                mine++;
            }
            Interlocked.Add(ref done, mine);
        })).ToArray();
        Task.WaitAll(tasks);
        return done / clock.Elapsed.TotalSeconds;
    }

    private static (double P50, double P99, double Offered, double Achieved) LatencyAtRate(
        IImageClassifier classifier, DynamicBatcherOptions options, DecodedImage[] images, double rate, TimeSpan window)
    {
        using var batcher = new DisposableBatcher(classifier, options);
        long count = Math.Max(1, (long)(rate * window.TotalSeconds));
        var latencies = new double[count];
        var tasks = new Task[count];
        var clock = Stopwatch.StartNew();
        for (long i = 0; i < count; i++)
        {
            var due = TimeSpan.FromSeconds(i / rate);
            while (clock.Elapsed < due)
            {
                var wait = due - clock.Elapsed;
                if (wait > TimeSpan.FromMilliseconds(2)) Thread.Sleep(1); // pacing the load generator, not a correctness wait
                else Thread.SpinWait(50);
            }
            long index = i;
            tasks[i] = Task.Run(async () =>
            {
                await batcher.Batcher.ClassifyAsync(images[index % images.Length]).ConfigureAwait(false);
                latencies[index] = (clock.Elapsed - due).TotalMilliseconds;
            });
        }
        Task.WaitAll(tasks);
        double elapsed = clock.Elapsed.TotalSeconds;
        Array.Sort(latencies);
        return (latencies[(int)(0.50 * (count - 1))], latencies[(int)(0.99 * (count - 1))], rate, count / elapsed);
    }

    private sealed class DisposableBatcher(IImageClassifier classifier, DynamicBatcherOptions options) : IDisposable
    {
        public DynamicBatcher Batcher { get; } = new(classifier, options);

        public void Dispose() => Batcher.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
