using System.CommandLine;
using System.Diagnostics;
using Moderation.Streams.Hashing;
using Moderation.Streams.Inference;
using Moderation.Streams.Media;

namespace Moderation.Streams.Cli.Commands.Bench;

/// <summary>
/// <c>bench e2e</c>: the whole pipeline against its own stages, in one run. Worker processes on the embedded broker and a
/// real Redis screen distinct photo-like JPEGs (half 1280×720, half 1080×1920): uploads/s with everything published at
/// once; p50/p99 upload→decision at half that rate on other distinct pictures; the stages alone on the same pictures in
/// this process with every core (decode+PDQ images/s; inference at its best static batch on the decoded pictures) give
/// the bound 1/(1/decode_pdq + 1/inference). Then every upload again as exact duplicates (decision-cache hits) against a
/// raw consume→produce copy loop with the workers' client settings; and the hits again with a long
/// <c>Kafka:CommitInterval</c> (what committing every 200 ms costs).
/// </summary>
internal static class E2eBench
{
    public static Command Create()
    {
        var uploads = new Option<int>("--uploads") { Description = "Distinct pictures per measured phase (throughput; latency uses as many others)", DefaultValueFactory = _ => 400 };
        var workers = new Option<int>("--workers") { Description = "Worker processes", DefaultValueFactory = _ => 1 };
        var partitions = new Option<int>("--partitions") { Description = "Partitions of every topic", DefaultValueFactory = _ => 12 };
        var redis = new Option<string?>("--redis") { Description = "HOST:PORT of a Redis to use (default: start redis-server from PATH; the bench refuses without one)" };
        var model = new Option<string>("--model") { Description = "Model of the workers and of the inference stage", DefaultValueFactory = _ => ModelRegistry.DefaultModelName };
        var stageSeconds = new Option<double>("--stage-seconds") { Description = "Length of each stage measurement", DefaultValueFactory = _ => 3 };
        var timeout = new Option<int>("--timeout") { Description = "Seconds before a phase gives up", DefaultValueFactory = _ => 600 };
        var longCommit = new Option<double>("--long-commit-interval") { Description = "Kafka:CommitInterval (seconds) of the second cache-hit run; 0 skips it", DefaultValueFactory = _ => 10 };
        var hitUploads = new Option<int>("--hit-uploads") { Description = "Uploads of each cache-hit phase (the throughput set's pictures again, cycled) and records of the copy loop", DefaultValueFactory = _ => 4000 };
        var warmUp = new Option<int>("--warm-up") { Description = "Distinct pictures of each warm-up round before the measured phases", DefaultValueFactory = _ => 64 };
        var warmUpRounds = new Option<int>("--warm-up-rounds") { Description = "Most warm-up rounds: they go on until the workers' JIT took under 5% of their CPU time in a round and the second after it (a steady worker's rate, not its first minute's)", DefaultValueFactory = _ => 16 };
        var set = new Option<string[]>("--set") { Description = "Worker setting KEY=VALUE (configuration key, e.g. Inference:IntraOpThreads=1); repeatable", AllowMultipleArgumentsPerToken = false };
        var command = new Command("e2e", "The pipeline (worker processes, embedded broker, redis-server) vs its stages alone on the same pictures " +
            "(RATIO e2e_vs_stage_bound), cache hits vs a raw copy loop (RATIO hash_hit_vs_copy_loop), the default commit interval vs a long one.")
        {
            uploads, workers, partitions, redis, model, stageSeconds, timeout, longCommit, hitUploads, warmUp, warmUpRounds, set,
        };
        command.SetAction(async (parse, ct) =>
        {
            if (WorkerSettings("e2e", parse.GetValue(set)) is not { } settings) return ExitCodes.Usage;
            var s = new Settings(parse.GetValue(uploads), parse.GetValue(workers), parse.GetValue(partitions), parse.GetValue(redis), parse.GetValue(model)!,
                TimeSpan.FromSeconds(parse.GetValue(stageSeconds)), TimeSpan.FromSeconds(parse.GetValue(timeout)), parse.GetValue(longCommit), parse.GetValue(hitUploads), parse.GetValue(warmUp), parse.GetValue(warmUpRounds), settings);
            if (s.Uploads is < 4 or > 100_000 || s.Workers is < 1 or > 16 || s.Partitions is < 1 or > 256 || s.StageWindow <= TimeSpan.Zero || s.Timeout <= TimeSpan.Zero || s.LongCommitSeconds < 0 || s.HitUploads is < 1 or > 10_000_000 || s.WarmUp is < 1 or > 100_000 || s.WarmUpRounds is < 1 or > 100)
            {
                Console.Error.WriteLine("moderation bench e2e: --uploads 4-100000, --workers 1-16, --partitions 1-256, --stage-seconds and --timeout positive, --long-commit-interval 0 or more, --hit-uploads 1-10000000, --warm-up 1-100000, --warm-up-rounds 1-100");
                return ExitCodes.Usage;
            }
            return await PipelineUnderTest.RunGuardedAsync("e2e", s.Model, s.Redis, () => RunAsync(s, ct));
        });
        return command;
    }

    /// <summary>The <c>--set KEY=VALUE</c> worker settings; null (after one line on stderr) when one has no <c>=</c>.</summary>
    internal static Dictionary<string, string>? WorkerSettings(string verb, string[]? pairs)
    {
        var settings = new Dictionary<string, string>();
        foreach (var pair in pairs ?? [])
        {
            int eq = pair.IndexOf('=');
            if (eq <= 0)
            {
                Console.Error.WriteLine($"moderation bench {verb}: --set takes KEY=VALUE, not '{pair}'");
                return null;
            }
            settings[pair[..eq].Trim()] = pair[(eq + 1)..].Trim();
        }
        return settings;
    }

    private sealed record Settings(int Uploads, int Workers, int Partitions, string? Redis, string Model, TimeSpan StageWindow, TimeSpan Timeout,
        double LongCommitSeconds, int HitUploads, int WarmUp, int WarmUpRounds, IReadOnlyDictionary<string, string> WorkerSettings);

    private static async Task<int> RunAsync(Settings s, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        void Say(string text) => Console.WriteLine($"[{clock.Elapsed.TotalSeconds,6:0.0}s] {text}");
        Say($"cores {Environment.ProcessorCount}, load average {LoadAverage()}");

        // Distinct pictures: the throughput set (also the cache-hit set later), the latency set; warm-up pictures apart
        // (their own seeds, made only when a round needs them).
        var pictures = new byte[2 * s.Uploads][];
        Parallel.For(0, pictures.Length, i => pictures[i] = Picture(700_008 + i));
        var measured = pictures[..s.Uploads];
        Say($"{pictures.Length} distinct JPEGs (q85, half 1280x720, half 1080x1920), mean {pictures.Average(p => p.Length) / 1024:0} KiB");

        // The stages alone, every core, on the throughput set.
        var (decodePdq, inference, bestBatch) = MeasureStages(measured, s, Say);
        double bound = 1 / (1 / decodePdq + 1 / inference);
        Say($"stage bound 1/(1/{decodePdq:0.0} + 1/{inference:0.0}) = {bound:0.0} uploads/s");

        await using var system = await PipelineUnderTest.StartAsync(s.Partitions, s.Redis, ct);
        var urls = pictures.Select((p, i) => system.AddMedia($"p{i:D6}.jpg", p)).ToArray();
        var tputUrls = urls[..s.Uploads];
        Say($"broker {system.Bootstrap}, redis {system.Redis} ({system.RedisKind}), {s.Workers} worker(s)" +
            (s.WorkerSettings.Count > 0 ? $" with {string.Join(' ', s.WorkerSettings.Select(kv => $"{kv.Key}={kv.Value}"))}" : ""));
        var workerSettings = new Dictionary<string, string>(s.WorkerSettings) { ["Screening:Model"] = s.Model };
        for (int w = 0; w < s.Workers; w++)
        {
            var ready = await system.StartWorkerAsync(workerSettings, TimeSpan.FromSeconds(120), ct);
            Say($"worker {w}: process start -> /readyz 200 in {ready.TotalSeconds:0.00} s");
        }

        // Warm-up: rounds of distinct pictures until the JIT no longer weighs (under 5% of the workers' CPU time in a round and
        // the second after it):
        // a worker's first hundreds of uploads also pay for compiling and re-compiling its code (tiered compilation with
        // PGO), which a worker that runs for hours does not.
        var warmUrls = new List<string>();
        for (int round = 1; ; round++)
        {
            var roundPictures = new byte[s.WarmUp][];
            int first = warmUrls.Count;
            Parallel.For(0, roundPictures.Length, i => roundPictures[i] = Picture(800_000 + first + i));
            var roundUrls = roundPictures.Select((p, i) => system.AddMedia($"w{first + i:D6}.jpg", p)).ToArray();
            warmUrls.AddRange(roundUrls);
            var jitBefore = await system.ScrapeAsync(ct);
            double cpuRound = system.WorkerCpuSeconds();
            await system.RunPhaseAsync($"warmup{round}", roundUrls, 0, s.Timeout, ct);
            // Tiering up is the JIT's background work, paced by time as much as by calls: a second's pause lets it catch
            // up with the round, as it would between the bursts of a worker that has run for a while.
            await Task.Delay(TimeSpan.FromSeconds(1), ct);
            var (methods, jitSeconds) = Jit(jitBefore, await system.ScrapeAsync(ct));
            cpuRound = system.WorkerCpuSeconds() - cpuRound;
            Say($"warm-up round {round}: {s.WarmUp} distinct uploads decided; JIT {methods:0} methods compiled, {jitSeconds:0.00} s of {cpuRound:0.00} s worker CPU");
            if (jitSeconds < 0.05 * cpuRound || round >= s.WarmUpRounds) break;
        }
        var before = await system.ScrapeAsync(ct);
        double cpuBefore = system.WorkerCpuSeconds();

        Say($"throughput: {s.Uploads} distinct uploads published at once (load average {LoadAverage()})");
        var throughput = await system.RunPhaseAsync("tput", tputUrls, 0, s.Timeout, ct);
        var after = await system.ScrapeAsync(ct);
        double cpuThroughput = system.WorkerCpuSeconds() - cpuBefore;
        Say($"throughput: {throughput.PerSecond:0.0} uploads/s ({throughput.Elapsed.TotalSeconds:0.00} s; cached {throughput.Cached}, dlq {throughput.Dlq})");
        PrintProfile(before, after, throughput.Uploads, cpuThroughput, throughput.Elapsed, Say);

        double half = throughput.PerSecond / 2;
        var latency = await system.RunPhaseAsync("lat", urls[s.Uploads..], half, s.Timeout, ct);
        Say($"latency at half load ({half:0.0} uploads/s offered, {latency.Uploads} distinct uploads): p50 {latency.Percentile(0.5):0} ms  p99 {latency.Percentile(0.99):0} ms " +
            $"(cached {latency.Cached}, dlq {latency.Dlq})");

        // Exact duplicates of pictures decided above: decision-cache hits (no model), the throughput set cycled.
        var hitUrls = Enumerable.Range(0, s.HitUploads).Select(i => tputUrls[i % s.Uploads]).ToArray();
        var beforeHits = await system.ScrapeAsync(ct);
        double cpuBeforeHits = system.WorkerCpuSeconds();
        var hits = await system.RunPhaseAsync("hit", hitUrls, 0, s.Timeout, ct);
        Say($"cache hits: {hits.PerSecond:0.0} uploads/s ({hits.Cached} of {hits.Uploads} cached, {hits.Elapsed.TotalSeconds:0.00} s, published in {hits.Published.TotalSeconds:0.00} s; " +
            $"upload->decision p50 {hits.Percentile(0.5):0} ms p99 {hits.Percentile(0.99):0} ms; load average {LoadAverage()})");
        PrintProfile(beforeHits, await system.ScrapeAsync(ct), hits.Uploads, system.WorkerCpuSeconds() - cpuBeforeHits, hits.Elapsed, Say);
        double copy = system.CopyLoop(s.HitUploads, new Kafka.KafkaOptions().CommitInterval, s.Timeout);
        Say($"copy loop (consume -> produce, the worker's client settings, {s.HitUploads} records): {copy:0} records/s");

        PipelineUnderTest.Phase? longHits = null;
        if (s.LongCommitSeconds > 0)
        {
            // Fresh workers with a long commit interval: one pass over the pictures first, so that they start from what the
            // first workers knew when their hits were measured (the decision cache is shared; what a worker remembers is not).
            var exits = await system.StopWorkersAsync(ct);
            var longSettings = new Dictionary<string, string>(workerSettings) { ["Kafka:CommitInterval"] = TimeSpan.FromSeconds(s.LongCommitSeconds).ToString("c") };
            for (int w = 0; w < s.Workers; w++) await system.StartWorkerAsync(longSettings, TimeSpan.FromSeconds(120), ct);
            await system.RunPhaseAsync("warm2", [.. warmUrls, .. tputUrls], 0, s.Timeout, ct);
            longHits = await system.RunPhaseAsync("hit2", hitUrls, 0, s.Timeout, ct);
            Say($"cache hits with Kafka:CommitInterval={s.LongCommitSeconds:0.###} s: {longHits.PerSecond:0.0} uploads/s " +
                $"({longHits.Cached} of {longHits.Uploads} cached; first workers exited {string.Join('/', exits)}; load average {LoadAverage()})");
        }
        var lastExits = await system.StopWorkersAsync(ct);
        Say($"workers exited {string.Join('/', lastExits)}; load average {LoadAverage()}");

        var report = new BenchReport();
        report.Ratio("e2e_vs_stage_bound", throughput.PerSecond / bound, 0.85);
        report.Ratio("hash_hit_vs_copy_loop", hits.PerSecond / copy, 0.5);
        if (longHits is not null) report.Ratio("hash_hit_default_commit_vs_long_commit", hits.PerSecond / longHits.PerSecond, 0);
        Console.WriteLine($"e2e: uploads_per_s={throughput.PerSecond:0.0} stage_decode_pdq={decodePdq:0.0} stage_inference={inference:0.0}@{bestBatch} " +
            $"bound={bound:0.0} p50_ms={latency.Percentile(0.5):0} p99_ms={latency.Percentile(0.99):0} hits_per_s={hits.PerSecond:0.0} copy_per_s={copy:0}" +
            (longHits is null ? "" : $" hits_long_commit_per_s={longHits.PerSecond:0.0}"));
        if (lastExits.Any(e => e != 0)) return ExitCodes.Failure;
        return report.Print(Console.Out);
    }

    /// <summary>The bench's photo-like JPEG of this seed: even seeds 1280×720, odd ones 1080×1920.</summary>
    private static byte[] Picture(int seed) =>
        seed % 2 == 0 ? PipelineUnderTest.PhotoJpeg(seed, 1280, 720) : PipelineUnderTest.PhotoJpeg(seed, 1080, 1920);

    /// <summary>Methods the workers' JIT compiled between two scrapes, and the time it spent (the runtime's meter).</summary>
    private static (double Methods, double Seconds) Jit(List<PrometheusSample> before, List<PrometheusSample> after) =>
        (Sum(after, "dotnet_jit_compiled_methods", "") - Sum(before, "dotnet_jit_compiled_methods", ""),
         Sum(after, "dotnet_jit_compilation_time", "") - Sum(before, "dotnet_jit_compilation_time", ""));

    /// <summary>decode+PDQ images/s on every core (the worker's decode: JPEG DCT scaling, upright) and the classifier's
    /// images/s at its best static batch (preprocessing included, the pictures decoded as the worker decodes them).</summary>
    private static (double DecodePdq, double Inference, int BestBatch) MeasureStages(byte[][] jpegs, Settings s, Action<string> say)
    {
        var limits = new MediaOptions().Decode;
        int threads = Environment.ProcessorCount;
        long next = 0;
        var hashers = new ThreadLocal<PdqHasher>(() => new PdqHasher());
        int DecodeAndHash(int _)
        {
            var jpeg = jpegs[(int)(Interlocked.Increment(ref next) % jpegs.Length)];
            var image = ImageDecoder.Decode(jpeg, limits);
            hashers.Value!.Hash(image.Pixels, image.Width, image.Height, image.Channels);
            return 1;
        }
        // Each stage runs a while unmeasured first, as the workers are warmed up: both sides are measured with their code
        // compiled and tiered up, not while the JIT works.
        InferenceBench.Measure(StageWarmUp(s), threads, DecodeAndHash);
        double decodePdq = InferenceBench.Measure(s.StageWindow, threads, DecodeAndHash);
        say($"stage decode+PDQ ({threads} threads, the worker's decode limits): {decodePdq:0.0} images/s");

        var decoded = jpegs.Take(64).Select(j => ImageDecoder.Decode(j, limits)).ToArray();
        var options = new InferenceOptions().Classifier();
        using var classifier = OnnxImageClassifier.Load(s.Model, options: options);
        double best = 0;
        int bestBatch = 1;
        InferenceBench.Measure(StageWarmUp(s), 1, _ => classifier.Classify(decoded[..4]).Count);
        for (int size = 1; size <= options.MaxBatchSize; size *= 2)
        {
            int n = size;
            double rate = InferenceBench.Measure(s.StageWindow, 1, _ =>
            {
                var batch = new DecodedImage[n];
                for (int i = 0; i < n; i++) batch[i] = decoded[(int)(Interlocked.Increment(ref next) % decoded.Length)];
                classifier.Classify(batch);
                return n;
            });
            say($"stage inference, static batch {size,2} ({classifier.Model.VersionedName}, {options.ResolveIntraOpThreads()} intra-op threads): {rate:0.0} images/s");
            if (rate > best) (best, bestBatch) = (rate, size);
        }
        return (decodePdq, best, bestBatch);
    }

    /// <summary>How long a stage runs unmeasured before it is measured: its window, at least one second.</summary>
    private static TimeSpan StageWarmUp(Settings s) => s.StageWindow > TimeSpan.FromSeconds(1) ? s.StageWindow : TimeSpan.FromSeconds(1);

    /// <summary>What the workers' metrics say the throughput phase did: the batches formed, the model's time per image, the queue wait.</summary>
    private static void PrintProfile(List<PrometheusSample> before, List<PrometheusSample> after, int uploads, double cpuSeconds, TimeSpan elapsed, Action<string> say)
    {
        double Delta(string prefix, string suffix) => Sum(after, prefix, suffix) - Sum(before, prefix, suffix);
        double batches = Delta("moderation_inference_batch_size", "_count"), images = Delta("moderation_inference_batch_size", "_sum");
        double modelSeconds = Delta("moderation_inference_duration", "_sum");
        double waitSeconds = Delta("moderation_inference_queue_wait", "_sum"), waits = Delta("moderation_inference_queue_wait", "_count");
        double decisionSeconds = Delta("moderation_decision_duration", "_sum"), decisions = Delta("moderation_decision_duration", "_count");
        var (jitMethods, jitSeconds) = Jit(before, after);
        say($"profile (workers' metrics and CPU time over the phase): worker CPU {1000 * cpuSeconds / uploads:0.00} ms/upload " +
            $"({cpuSeconds / elapsed.TotalSeconds:0.00} of {Environment.ProcessorCount} cores busy), {images:0} images in {batches:0} batches (mean batch {images / Math.Max(1, batches):0.0}), " +
            $"model {1000 * modelSeconds / Math.Max(1, images):0.0} ms/image, queue wait mean {1000 * waitSeconds / Math.Max(1, waits):0} ms, " +
            $"consumed->decided mean {1000 * decisionSeconds / Math.Max(1, decisions):0.0} ms over {decisions:0} decisions ({uploads} uploads), " +
            $"JIT {jitMethods:0} methods in {jitSeconds:0.00} s");
    }

    private static double Sum(List<PrometheusSample> samples, string prefix, string suffix) =>
        samples.Where(x => x.Name.StartsWith(prefix, StringComparison.Ordinal) && x.Name.EndsWith(suffix, StringComparison.Ordinal)).Sum(x => x.Value);

    /// <summary>The 1-minute load average (Linux), for the record beside every figure.</summary>
    internal static string LoadAverage()
    {
        try { return File.ReadAllText("/proc/loadavg").Split(' ')[0]; }
        catch (IOException) { return "n/a"; }
        catch (UnauthorizedAccessException) { return "n/a"; }
    }
}
