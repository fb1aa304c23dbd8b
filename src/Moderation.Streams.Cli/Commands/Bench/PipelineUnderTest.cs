using System.Collections.Concurrent;
using System.Diagnostics;
using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Inference;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media;
using SkiaSharp;

namespace Moderation.Streams.Cli.Commands.Bench;

/// <summary>
/// The end-to-end benchmarks' system: a <c>moderation broker</c> process, a Redis (a <c>redis-server</c> started here, or
/// the one at <c>--redis</c>), <c>moderation worker</c> processes, a producer of uploads and a reader of every outcome
/// (the same pieces as <c>chaos</c>: <see cref="ModerationProcess"/>, <see cref="RedisUnderTest"/>). Publishes a
/// phase of uploads (at once or paced), waits until each has an outcome, and reports the phase's wall time, the
/// upload→outcome latencies and how many decisions came from the cache.
/// </summary>
internal sealed class PipelineUnderTest : IAsyncDisposable
{
    /// <summary>What <c>bench e2e</c> and <c>bench soak</c> check before they start a pipeline, and how they end when it
    /// fails: an unusable model is a usage error (2), no redis-server and no <c>--redis</c> a failure (1), as is a pipeline
    /// that times out or cannot reach its broker.</summary>
    public static async Task<int> RunGuardedAsync(string verb, string model, string? redis, Func<Task<int>> run)
    {
        if (ModelRegistry.DescribeUnusable(model, InferencePrecision.Fp32) is { } unusable)
        {
            Console.Error.WriteLine($"moderation bench {verb}: {unusable}");
            return ExitCodes.Usage;
        }
        if (redis is null && RedisUnderTest.FindServer() is null)
        {
            Console.Error.WriteLine($"moderation bench {verb}: redis-server is not on PATH; install it (apt-get install redis-server) or pass --redis HOST:PORT");
            return ExitCodes.Failure;
        }
        try
        {
            return await run();
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or Confluent.Kafka.KafkaException)
        {
            Console.Error.WriteLine($"moderation bench {verb}: {e.Message.Split('\n')[0]}");
            Console.Error.WriteLine(e.Message);
            return ExitCodes.Failure;
        }
    }

    /// <summary>A topic beside the product's, for the copy loop's output.</summary>
    public const string CopyTopic = "moderation.bench.copy";

    private readonly List<ModerationProcess> _workers = [];
    private readonly ConcurrentDictionary<string, long> _sentAt = new();
    private readonly ConcurrentDictionary<string, Outcome> _outcomes = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource _stop = new();
    private ModerationProcess? _broker;
    private RedisUnderTest? _redis;
    private IProducer<string, byte[]>? _producer;
    private Thread? _readerThread;
    private int _workerSlots;

    private PipelineUnderTest(DirectoryInfo media, int partitions)
    {
        Media = media;
        Partitions = partitions;
    }

    public DirectoryInfo Media { get; }
    public int Partitions { get; }
    public string Bootstrap { get; private set; } = "";
    public string Redis { get; private set; } = "";
    public string RedisKind { get; private set; } = "";
    public IReadOnlyList<ModerationProcess> Workers => _workers;

    /// <summary>Telemetry base address of each running worker (for <c>/metrics</c> and <c>/readyz</c>).</summary>
    public List<Uri> Telemetry { get; } = [];

    private readonly record struct Outcome(long At, bool Cached, bool Dlq, bool TextMatched, bool MeaningMatched);

    /// <summary>What one phase measured.</summary>
    public sealed record Phase(int Uploads, TimeSpan Elapsed, double[] LatenciesMs, int Cached, int Dlq, TimeSpan Published)
    {
        /// <summary>Decisions with a text reason (a caption matched a text bank).</summary>
        public int TextMatched { get; init; }

        /// <summary>Decisions with a text reason of kind <c>text</c> (a caption matched a meaning bank).</summary>
        public int MeaningMatched { get; init; }

        public double PerSecond => Uploads / Elapsed.TotalSeconds;

        public double Percentile(double q) => BenchReport.Percentile(LatenciesMs, q);
    }

    /// <summary>Starts the broker and Redis (<paramref name="redis"/> null: a <c>redis-server</c> from PATH, which must exist).</summary>
    public static async Task<PipelineUnderTest> StartAsync(int partitions, string? redis, CancellationToken ct)
    {
        var system = new PipelineUnderTest(Directory.CreateTempSubdirectory("moderation-e2e-"), partitions);
        try
        {
            system._broker = ModerationProcess.Start(["broker", "--partitions", partitions.ToString(), "--topics", string.Join(',', Topics.All.Append(CopyTopic))]);
            var line = await system._broker.WaitForLineAsync(l => l.StartsWith("bootstrap="), ct: ct);
            system.Bootstrap = line["bootstrap=".Length..];
            if (redis is null)
            {
                system._redis = await RedisUnderTest.StartAsync(ct, requireServer: true);
                system.Redis = system._redis.Configuration;
                system.RedisKind = "redis-server started here";
            }
            else
            {
                system.Redis = redis;
                system.RedisKind = "--redis";
            }
            system._producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = system.Bootstrap, Acks = Acks.All, LingerMs = 1 }).Build();
            system._readerThread = new Thread(system.ReadOutcomes) { IsBackground = true, Name = "bench outcome reader" };
            system._readerThread.Start();
            return system;
        }
        catch
        {
            await system.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts one worker with the chaos suite's settings plus <paramref name="settings"/> (configuration keys,
    /// <c>Section:Key</c>); returns the time from process start to <c>/readyz</c> answering 200.</summary>
    public async Task<TimeSpan> StartWorkerAsync(IReadOnlyDictionary<string, string> settings, TimeSpan deadline, CancellationToken ct)
    {
        int slot = _workerSlots++;
        var env = new Dictionary<string, string?>
        {
            ["Kafka__SessionTimeoutMs"] = "6000",
            ["Kafka__ShutdownTimeout"] = "00:00:20",
            ["Kafka__GroupInstanceId"] = $"bench-worker-{slot}",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Telemetry__Port"] = "0",
        };
        foreach (var (key, value) in settings) env[key.Replace(":", "__")] = value;
        var started = Stopwatch.StartNew();
        var worker = ModerationProcess.Start(["worker", "--kafka", Bootstrap, "--redis", Redis, "--media-root", Media.FullName, "--group", "bench"], env);
        _workers.Add(worker);
        var line = await worker.WaitForLineAsync(l => l.StartsWith("telemetry="), deadline, ct);
        var url = new Uri(line["telemetry=".Length..].Split(' ')[0].TrimEnd('/') + "/");
        Telemetry.Add(url);
        using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(2) };
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (worker.HasExited) throw new InvalidOperationException($"the worker exited before it was ready.\n{worker.Transcript()}");
            if (started.Elapsed > deadline) throw new TimeoutException($"the worker was not ready within {deadline.TotalSeconds:0} s.\n{worker.Transcript()}");
            try
            {
                using var response = await http.GetAsync("readyz", ct);
                if (response.IsSuccessStatusCode) return started.Elapsed;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested) { }
            await Task.Delay(10, ct); // polling a readiness endpoint; the interval bounds the measurement's resolution
        }
    }

    /// <summary>SIGTERM to every worker; waits for them to drain and exit. Returns their exit codes.</summary>
    public async Task<List<int>> StopWorkersAsync(CancellationToken ct)
    {
        foreach (var w in _workers) w.Terminate();
        var exits = new List<int>();
        foreach (var w in _workers)
        {
            exits.Add(await w.WaitForExitAsync(TimeSpan.FromSeconds(60), ct));
            w.Dispose();
        }
        _workers.Clear();
        Telemetry.Clear();
        return exits;
    }

    /// <summary>Writes a file under the media root and returns its <c>file:</c> URL.</summary>
    public string AddMedia(string name, byte[] bytes)
    {
        var path = Path.Combine(Media.FullName, name);
        File.WriteAllBytes(path, bytes);
        return new Uri(path).AbsoluteUri;
    }

    /// <summary>Publishes one upload per URL (content ids <paramref name="prefix"/>-N), at <paramref name="rate"/> per second
    /// (0: as fast as the producer goes), and waits until each has an outcome.</summary>
    public async Task<Phase> RunPhaseAsync(string prefix, IReadOnlyList<string> urls, double rate, TimeSpan timeout, CancellationToken ct,
        Func<int, string?>? caption = null)
    {
        var ids = urls.Select((_, i) => $"{prefix}-{i:D6}").ToArray();
        var start = _clock.ElapsedTicks;
        var publishing = Task.Run(() =>
        {
            var pace = Stopwatch.StartNew();
            for (int i = 0; i < ids.Length && !ct.IsCancellationRequested; i++)
            {
                if (rate > 0)
                {
                    var due = TimeSpan.FromSeconds(i / rate);
                    while (pace.Elapsed < due)
                    {
                        var wait = due - pace.Elapsed;
                        if (wait > TimeSpan.FromMilliseconds(2)) Thread.Sleep(1); // pacing the load generator, not a correctness wait
                        else Thread.SpinWait(50);
                    }
                }
                // 64 uploaders take turns: a policy with uploader rules (--set Screening:PolicyFile=…) counts them as it would live.
                var upload = new UploadEvent
                {
                    ContentId = ids[i], UploaderId = $"bench-u{i % 64}", MediaType = MediaTypes.Image, Media = new MediaRef { Url = urls[i] }, Caption = caption?.Invoke(i),
                };
                _sentAt[ids[i]] = _clock.ElapsedTicks;
                _producer!.Produce(Topics.Uploads, new Message<string, byte[]> { Key = ids[i], Value = UploadEventParser.Serialize(upload) });
            }
            if (_producer!.Flush(TimeSpan.FromSeconds(60)) != 0) throw new InvalidOperationException("uploads were not all acknowledged");
            return TimeSpan.FromSeconds((_clock.ElapsedTicks - start) / (double)Stopwatch.Frequency);
        }, ct);
        var deadline = _clock.Elapsed + timeout;
        while (ids.Any(id => !_outcomes.ContainsKey(id)))
        {
            if (publishing.IsFaulted) await publishing;
            if (_clock.Elapsed > deadline)
                throw new TimeoutException($"{prefix}: {ids.Count(_outcomes.ContainsKey)} of {ids.Length} outcomes within {timeout.TotalSeconds:0} s");
            if (_workers.FirstOrDefault(w => w.HasExited) is { } dead)
                throw new InvalidOperationException($"a worker exited during the run.\n{dead.Transcript()}");
            await Task.Delay(5, ct); // polling the reader's table; bounds the wall-time resolution at 5 ms
        }
        var published = await publishing;
        var outcomes = ids.Select(id => _outcomes[id]).ToArray();
        long last = outcomes.Max(o => o.At);
        var latencies = ids.Select(id => Ms(_outcomes[id].At - _sentAt[id])).ToArray();
        return new Phase(ids.Length, TimeSpan.FromSeconds((last - start) / (double)Stopwatch.Frequency), latencies,
            outcomes.Count(o => o.Cached), outcomes.Count(o => o.Dlq), published) { TextMatched = outcomes.Count(o => o.TextMatched), MeaningMatched = outcomes.Count(o => o.MeaningMatched) };
    }

    private static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    private void ReadOutcomes()
    {
        using var reader = new ConsumerBuilder<string?, byte[]>(new ConsumerConfig
        {
            BootstrapServers = Bootstrap,
            GroupId = "bench-verifier",
            EnableAutoCommit = false,
            FetchWaitMaxMs = 5,
        }).Build();
        reader.AssignOutcomes(Partitions);
        while (!_stop.IsCancellationRequested)
        {
            ConsumeResult<string?, byte[]>? r;
            try
            {
                r = reader.Consume(TimeSpan.FromMilliseconds(100));
            }
            catch (ConsumeException)
            {
                continue;
            }
            if (r?.Message?.Key is not { } key) continue;
            long at = _clock.ElapsedTicks;
            bool dlq = r.Topic == Topics.Dlq;
            bool cached = false, text = false, meaning = false;
            if (!dlq)
            {
                try
                {
                    var decision = DecisionEvent.FromUtf8Json(r.Message.Value);
                    cached = decision.Cached;
                    text = decision.Reasons.Any(reason => reason.Source == "text");
                    meaning = decision.Reasons.Any(reason => reason.Source == "text" && reason.Kind == "text");
                }
                catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException) { }
            }
            _outcomes.TryAdd(key, new Outcome(at, cached, dlq, text, meaning));
        }
    }

    /// <summary>The raw consume→produce copy loop with the worker's client settings (<see cref="KafkaClientConfig"/>):
    /// reads <paramref name="count"/> uploads from the beginning in its own group, produces each to <see cref="CopyTopic"/>,
    /// stores offsets once delivered and commits every <paramref name="commitInterval"/>. Returns records/s.</summary>
    public double CopyLoop(int count, TimeSpan commitInterval, TimeSpan timeout)
    {
        var options = new KafkaOptions { BootstrapServers = Bootstrap, GroupId = $"bench-copy-{Guid.NewGuid():N}" };
        var consumerConfig = KafkaClientConfig.Consumer(options);
        consumerConfig.GroupInstanceId = null;
        using var consumer = new ConsumerBuilder<byte[]?, byte[]>(consumerConfig).Build();
        using var producer = new ProducerBuilder<byte[]?, byte[]>(KafkaClientConfig.Producer(options)).Build();
        consumer.Subscribe(Topics.Uploads);
        // Joining the group is not copying: the clock starts at the first record.
        ConsumeResult<byte[]?, byte[]>? first = null;
        var joinDeadline = Stopwatch.StartNew();
        while (first?.Message is null)
        {
            if (joinDeadline.Elapsed > timeout) throw new TimeoutException("the copy loop read nothing");
            first = consumer.Consume(TimeSpan.FromMilliseconds(100));
        }
        var clock = Stopwatch.StartNew();
        long delivered = 0, failed = 0;
        var lastCommit = clock.Elapsed;
        var done = new ConcurrentQueue<TopicPartitionOffset>();
        void Copy(ConsumeResult<byte[]?, byte[]> r)
        {
            var source = r.TopicPartitionOffset;
            producer.Produce(CopyTopic, new Message<byte[]?, byte[]> { Key = r.Message.Key, Value = r.Message.Value }, report =>
            {
                if (report.Error.IsError) Interlocked.Increment(ref failed);
                done.Enqueue(source);
                Interlocked.Increment(ref delivered);
            });
        }
        Copy(first);
        int read = 1;
        while (Interlocked.Read(ref delivered) < count)
        {
            if (clock.Elapsed > timeout) throw new TimeoutException($"the copy loop copied {Interlocked.Read(ref delivered)} of {count}");
            if (read < count && consumer.Consume(TimeSpan.FromMilliseconds(read < count ? 100 : 1)) is { Message: not null } r)
            {
                Copy(r);
                read++;
            }
            else if (read >= count) producer.Poll(TimeSpan.FromMilliseconds(1));
            while (done.TryDequeue(out var d)) consumer.StoreOffset(new TopicPartitionOffset(d.TopicPartition, d.Offset + 1));
            if (clock.Elapsed - lastCommit >= commitInterval)
            {
                try { consumer.Commit(); } catch (KafkaException) { }
                lastCommit = clock.Elapsed;
            }
        }
        double rate = count / clock.Elapsed.TotalSeconds;
        if (failed > 0) throw new InvalidOperationException($"the copy loop failed to deliver {failed} records");
        consumer.Close();
        return rate;
    }

    /// <summary>CPU seconds (user + system) the worker processes have used so far (Linux <c>/proc/PID/stat</c>); 0 where unreadable.</summary>
    public double WorkerCpuSeconds()
    {
        double total = 0;
        foreach (var w in _workers)
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{w.Id}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                // After the command name: state is field 3, utime field 14, stime field 15 (1-based in proc(5)).
                total += (long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture)) / 100.0;
            }
            catch (Exception e) when (e is IOException or FormatException or IndexOutOfRangeException) { }
        }
        return total;
    }

    /// <summary>Worker <c>/metrics</c> samples (every worker's, concatenated).</summary>
    public async Task<List<PrometheusSample>> ScrapeAsync(CancellationToken ct)
    {
        var samples = new List<PrometheusSample>();
        foreach (var url in Telemetry)
        {
            using var http = new HttpClient { BaseAddress = url, Timeout = TimeSpan.FromSeconds(5) };
            samples.AddRange(PrometheusText.Parse(await http.GetStringAsync("metrics", ct)));
        }
        return samples;
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _readerThread?.Join(TimeSpan.FromSeconds(5));
        _producer?.Dispose();
        foreach (var w in _workers) w.Dispose();
        _broker?.Dispose();
        if (_redis is not null) await _redis.DisposeAsync();
        try { Media.Delete(true); } catch (IOException) { }
        _stop.Dispose();
    }

    /// <summary>
    /// A phone-photo-like JPEG: the sample picture (gradients, shapes) under a fine noise texture, so it compresses as a
    /// photo does (hundreds of KB at 1080×1920) rather than as flat synthetic art. Distinct seeds give distinct pictures.
    /// </summary>
    public static byte[] PhotoJpeg(int seed, int width, int height, int quality = 85)
    {
        // The same seed always gives the same bytes: kept in the temp folder, so a second run does not render them again.
        var cached = Path.Combine(Path.GetTempPath(), "moderation-bench-pictures", $"v1-{seed}-{width}x{height}-q{quality}.jpg");
        try
        {
            if (File.Exists(cached)) return File.ReadAllBytes(cached);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        var bytes = RenderPhotoJpeg(seed, width, height, quality);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(cached)!);
            var partial = $"{cached}.{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.tmp";
            File.WriteAllBytes(partial, bytes);
            File.Move(partial, cached, overwrite: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return bytes;
    }

    private static byte[] RenderPhotoJpeg(int seed, int width, int height, int quality)
    {
        using var bitmap = SampleImages.Render(seed, width, height);
        using var noise = NoiseTile(seed);
        using var canvas = new SKCanvas(bitmap);
        using var image = SKImage.FromBitmap(noise);
        using var paint = new SKPaint();
        var random = new Random(seed);
        paint.Shader = image.ToShader(SKShaderTileMode.Repeat, SKShaderTileMode.Repeat,
            SKMatrix.CreateTranslation(random.Next(256), random.Next(256)));
        paint.Color = SKColors.White.WithAlpha(56);
        paint.BlendMode = SKBlendMode.Overlay;
        canvas.DrawRect(0, 0, width, height, paint);
        return SampleImages.Encode(bitmap, SKEncodedImageFormat.Jpeg, quality);
    }

    private static SKBitmap NoiseTile(int seed)
    {
        var random = new Random(seed * 7919);
        var tile = new SKBitmap(new SKImageInfo(256, 256, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var pixels = new byte[256 * 256 * 4];
        random.NextBytes(pixels);
        for (int i = 3; i < pixels.Length; i += 4) pixels[i] = 255;
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, tile.GetPixels(), pixels.Length);
        return tile;
    }
}
