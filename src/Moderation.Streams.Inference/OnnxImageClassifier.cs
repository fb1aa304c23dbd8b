using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Moderation.Streams.Media;

namespace Moderation.Streams.Inference;

/// <summary>
/// Runs a registered model with ONNX Runtime on the CUDA or CPU execution provider (see
/// <see cref="ClassifierOptions.Device"/>). The model takes NHWC float32 [N,S,S,3] in [0,1] (dynamic batch)
/// and returns [N,labels] probabilities.
/// <para>
/// Thread-safe: each concurrent caller gets a "lane" — pinned input/output buffers for
/// <see cref="ClassifierOptions.MaxBatchSize"/> images with <see cref="OrtValue"/>s and an
/// <see cref="OrtIoBinding"/> per batch size bound over them — created on first need and reused, so a warm
/// classifier allocates no tensor memory per image. On CUDA, runs are padded to fixed batch-size buckets that
/// were warmed up at load.
/// </para>
/// </summary>
public sealed class OnnxImageClassifier : IImageClassifier
{
    private readonly InferenceSession _session;
    private readonly SessionOptions _sessionOptions;
    private readonly string _inputName;
    private readonly string _outputName;
    private readonly int[]? _buckets;
    private readonly int _perImage;
    private readonly int _labels;
    private readonly Stack<Lane> _idleLanes = new();
    private readonly List<Lane> _allLanes = [];
    private volatile bool _disposed;

    private OnnxImageClassifier(ModelDescriptor model, string modelPath, ClassifierOptions options,
        InferenceSession session, SessionOptions sessionOptions, string device, string? fallbackReason)
    {
        Model = model;
        ModelPath = modelPath;
        Options = options;
        _session = session;
        _sessionOptions = sessionOptions;
        Device = device;
        DeviceFallbackReason = fallbackReason;
        _perImage = model.InputSize * model.InputSize * 3;
        _labels = model.Labels.Count;
        (_inputName, _outputName) = CheckSignature(model, modelPath);
        if (options.BatchBuckets is { } buckets) _buckets = [.. buckets.Append(options.MaxBatchSize).Distinct().Order()];
        else if (IsCuda) _buckets = [.. PowersOfTwo(options.MaxBatchSize).Append(options.MaxBatchSize).Distinct().Order()];
    }

    /// <summary>The model as it runs: its <see cref="ModelDescriptor.VersionedName"/> carries <c>+fp16</c> for the float16 variant.</summary>
    public ModelDescriptor Model { get; }

    /// <summary>The precision actually running (<see cref="ClassifierOptions.Precision"/> unless a CPU fallback chose float32).</summary>
    public InferencePrecision Precision => Model.Precision;

    /// <summary>"cuda:N" or "cpu".</summary>
    public string Device { get; }

    public bool IsCuda => Device.StartsWith("cuda", StringComparison.Ordinal);

    /// <summary>
    /// Why <see cref="InferenceDevice.Auto"/> ended on the CPU (and, when float16 was asked for, that float32 runs
    /// instead); null when it got CUDA or the CPU was asked for.
    /// </summary>
    public string? DeviceFallbackReason { get; }

    public string ModelPath { get; }
    public ClassifierOptions Options { get; }

    /// <summary>The fixed batch sizes runs are padded to; null = exact sizes.</summary>
    public IReadOnlyList<int>? BatchBuckets => _buckets;

    /// <summary>Lanes (sets of preallocated buffers) created so far: the most callers seen at once.</summary>
    public int Lanes { get { lock (_idleLanes) return _allLanes.Count; } }

    /// <summary>
    /// Where input tensors live: "managed" (a GC-pinned array) or "cuda-pinned" (<see cref="ClassifierOptions.CudaPinnedInput"/>),
    /// with the reason when pinned memory was asked for and not had; null before the first lane (no warm-up, no run yet).
    /// </summary>
    public string? HostMemory { get { lock (_idleLanes) return _allLanes.Count > 0 ? _allLanes[0].HostMemoryNote : null; } }

    /// <summary><c>AppContext.BaseDirectory/models</c>: where the build copies the committed models.</summary>
    public static string DefaultModelsDirectory => Path.Combine(AppContext.BaseDirectory, "models");

    /// <summary>
    /// Loads a registered model from <paramref name="modelsDirectory"/> (default <see cref="DefaultModelsDirectory"/>)
    /// at <see cref="ClassifierOptions.Precision"/>. Float16 is meant for CUDA: when <see cref="InferenceDevice.Auto"/>
    /// ends on the CPU the float32 model runs and <see cref="DeviceFallbackReason"/> says so; with
    /// <see cref="InferenceDevice.Cpu"/> the float16 model runs as asked.
    /// Int8 is meant for the CPU: it always runs there (<see cref="InferenceDevice.Auto"/> does not try CUDA).
    /// </summary>
    /// <exception cref="ArgumentException">Unknown model name (the message lists the known ones), or float16 or int8 asked
    /// of a model without that variant (the message lists the models that have one).</exception>
    /// <exception cref="FileNotFoundException">The model file is missing.</exception>
    /// <exception cref="InvalidDataException">The file is not a loadable model with the registered signature.</exception>
    /// <exception cref="ExecutionProviderUnavailableException"><see cref="InferenceDevice.Cuda"/> asked for and CUDA cannot be
    /// used, or asked for with int8.</exception>
    public static OnnxImageClassifier Load(
        string modelName = ModelRegistry.DefaultModelName, string? modelsDirectory = null, ClassifierOptions? options = null)
    {
        options ??= new ClassifierOptions();
        options.Validate();
        var requested = ModelRegistry.Get(modelName).WithPrecision(options.Precision);
        var directory = modelsDirectory ?? DefaultModelsDirectory;

        string? fallback = null;
        // Int8 (QDQ) is for ONNX Runtime's CPU kernels (QLinearConv with VNNI): auto goes straight to the CPU, cuda is refused.
        if (requested.Precision == InferencePrecision.Int8 && options.Device == InferenceDevice.Cuda)
            throw new ExecutionProviderUnavailableException(
                $"{requested.VersionedName}: Inference:Precision=int8 runs on the CPU execution provider only; " +
                "set Inference:Device to 'cpu' or 'auto', or Inference:Precision to fp32/fp16 for CUDA.");
        if ((options.Device is InferenceDevice.Cuda or InferenceDevice.Auto) && requested.Precision != InferencePrecision.Int8)
        {
            var path = FindFile(requested, directory);
            var cuda = options.ForDevice(cuda: true);
            var cudaOptions = CreateOptions(cuda, out var cudaFailure);
            if (cudaFailure is null)
            {
                InferenceSession? session = null;
                try
                {
                    session = new InferenceSession(path, cudaOptions);
                }
                catch (OnnxRuntimeException e)
                {
                    cudaOptions.Dispose();
                    cudaFailure = $"creating a CUDA session failed: {e.Message}";
                }
                if (session is not null)
                {
                    // A session can be created and still fail at its first run (cuDNN, cuFFT and NVRTC are opened
                    // then, not at load): Start runs it once even without warm-up, so a broken CUDA install
                    // refuses or falls back now (Start disposes the classifier when that run throws).
                    try
                    {
                        return Start(new OnnxImageClassifier(requested, path, cuda, session, cudaOptions, $"cuda:{options.CudaDeviceId}", null), runOnce: true);
                    }
                    catch (OnnxRuntimeException e)
                    {
                        cudaFailure = $"the first run on CUDA failed: {e.Message}";
                    }
                }
            }
            else
            {
                cudaOptions.Dispose(); // the CUDA provider could not even be appended
            }
            if (options.Device == InferenceDevice.Cuda)
                throw new ExecutionProviderUnavailableException(
                    $"Inference:Device is 'cuda' but the CUDA execution provider cannot be used: {cudaFailure}. " +
                    "It needs an NVIDIA GPU, the CUDA 13 and cuDNN 9 libraries, and a build with -p:OnnxRuntimeFlavor=gpu " +
                    "(Microsoft.ML.OnnxRuntime.Gpu.Linux); or set Inference:Device to 'auto' (CPU fallback) or 'cpu'.");
            fallback = cudaFailure;
            // A CPU-only ONNX Runtime build on the CPU is what it was built for, not a fallback: nothing for the GPU alert.
            if (!IsCpuOnlyBuild) InferenceTelemetry.DeviceFallbacks.Add(1, new KeyValuePair<string, object?>("model", requested.VersionedName));
        }

        // Float16 on the CPU only when the CPU was asked for: ONNX Runtime's CPU provider runs most float16 nodes
        // through inserted casts, slower than float32, so a CUDA fallback keeps the float32 model.
        var model = requested;
        if (fallback is not null && requested.Precision == InferencePrecision.Fp16)
        {
            model = requested.WithPrecision(InferencePrecision.Fp32);
            fallback += "; Inference:Precision=fp16 is for CUDA, so the fp32 model runs on the CPU (fp16 is slower there)";
        }
        var cpuPath = FindFile(model, directory);
        options = options.ForDevice(cuda: false);
        var cpuOptions = CreateOptions(options with { Device = InferenceDevice.Cpu }, out _);
        InferenceSession cpuSession;
        try
        {
            cpuSession = new InferenceSession(cpuPath, cpuOptions);
        }
        catch (OnnxRuntimeException e)
        {
            cpuOptions.Dispose();
            throw new InvalidDataException($"{model.VersionedName}: {cpuPath} is not a loadable ONNX model: {e.Message}", e);
        }
        return Start(new OnnxImageClassifier(model, cpuPath, options, cpuSession, cpuOptions, "cpu", fallback));
    }

    private static string FindFile(ModelDescriptor model, string directory)
    {
        var path = Path.GetFullPath(Path.Combine(directory, model.ModelFileName));
        if (!File.Exists(path))
            throw new FileNotFoundException(
                $"{model.VersionedName}: model file not found at {path} (built by tools/nsfwjs-convert/convert.sh, " +
                "copied to the output's models/ folder by the Inference project)", path);
        return path;
    }

    /// <summary>Warms <paramref name="classifier"/> up (every bucket) when its options say so, else with
    /// <paramref name="runOnce"/> runs its smallest batch once; disposes it if that throws.</summary>
    private static OnnxImageClassifier Start(OnnxImageClassifier classifier, bool runOnce = false)
    {
        try
        {
            if (classifier.Options.WarmUp || runOnce) classifier.WarmUp(everyBucket: classifier.Options.WarmUp);
            return classifier;
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs every bucket (CUDA) or one image (CPU) once, on zeros, so the first real batch is not slow; with
    /// <paramref name="everyBucket"/> false only the smallest batch (CUDA's check that it can run at all).
    /// </summary>
    private void WarmUp(bool everyBucket)
    {
        var lane = RentLane();
        try
        {
            foreach (int size in _buckets ?? [1])
            {
                Run(lane, size);
                if (!everyBucket) break;
            }
        }
        finally
        {
            ReturnLane(lane);
        }
    }

    public IReadOnlyList<ClassScores> Classify(IReadOnlyList<DecodedImage> images)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) return [];
        var result = new ClassScores[images.Count];
        for (int start = 0; start < images.Count; start += Options.MaxBatchSize)
            ClassifyChunk(images, start, Math.Min(Options.MaxBatchSize, images.Count - start), result);
        return result;
    }

    private void ClassifyChunk(IReadOnlyList<DecodedImage> images, int start, int count, ClassScores[] result)
    {
        var lane = RentLane();
        try
        {
            int size = Model.InputSize, perImage = _perImage;
            if (count > 1 && Options.ParallelPreprocessing && Environment.ProcessorCount > 1)
                Parallel.For(0, count, i => Preprocessor.Write(images[start + i], size, lane.Input(i * perImage, perImage)));
            else
                for (int i = 0; i < count; i++) Preprocessor.Write(images[start + i], size, lane.Input(i * perImage, perImage));

            Run(lane, BucketFor(count));
            var probabilities = lane.Output.AsSpan();
            for (int i = 0; i < count; i++)
                result[start + i] = new ClassScores(Model.Labels, probabilities.Slice(i * _labels, _labels).ToArray());
            InferenceTelemetry.Batches.Add(1, new KeyValuePair<string, object?>("device", Device));
            InferenceTelemetry.Images.Add(count, new KeyValuePair<string, object?>("device", Device));
        }
        finally
        {
            ReturnLane(lane);
        }
    }

    private int BucketFor(int count)
    {
        if (_buckets is null) return count;
        foreach (int bucket in _buckets)
            if (bucket >= count) return bucket;
        throw new UnreachableException($"no bucket for {count} images (largest {_buckets[^1]})");
    }

    private void Run(Lane lane, int batchSize)
    {
        var binding = lane.BindingFor(batchSize);
        _session.RunWithBinding(lane.RunOptions, binding);
        if (IsCuda) binding.SynchronizeBoundOutputs();
    }

    private Lane RentLane()
    {
        lock (_idleLanes)
        {
            if (_idleLanes.TryPop(out var lane)) return lane;
            lane = new Lane(this);
            _allLanes.Add(lane);
            return lane;
        }
    }

    private void ReturnLane(Lane lane)
    {
        lock (_idleLanes)
        {
            if (_disposed) lane.Dispose();
            else _idleLanes.Push(lane);
        }
    }

    public void Dispose()
    {
        lock (_idleLanes)
        {
            if (_disposed) return;
            _disposed = true;
            while (_idleLanes.TryPop(out var lane)) lane.Dispose();
        }
        _session.Dispose();
        _sessionOptions.Dispose();
    }

    /// <summary>
    /// CPU: sequential execution, no inter-op pool, intra-op threads = cores / concurrent runs, and no
    /// spin-waiting (the worker's other stages need the cores spinning threads would burn between batches).
    /// CUDA: the same plus the CUDA provider appended first; <paramref name="cudaFailure"/> says why it could
    /// not be (the CPU-only package has no CUDA entry point; the GPU package without a GPU or CUDA 13
    /// libraries fails to load its provider library).
    /// </summary>
    /// <summary>The ONNX Runtime version and the execution providers its build lists (CUDA is listed even without a GPU:
    /// <see cref="CudaUnavailableReason"/> tells whether it loads).</summary>
    /// <summary>This process carries the CPU-only ONNX Runtime (no CUDA execution provider is compiled in).</summary>
    public static bool IsCpuOnlyBuild => !Runtime().Providers.Contains("CUDAExecutionProvider");

    public static (string Version, IReadOnlyList<string> Providers) Runtime() =>
        (OrtEnv.Instance().GetVersionString(), OrtEnv.Instance().GetAvailableProviders());

    /// <summary>
    /// Why the CUDA execution provider cannot be appended on this machine (no GPU or driver, CUDA 13 libraries missing,
    /// or the CPU-only ONNX Runtime build); null when it can. A cheap check without a model: cuDNN is opened only at a
    /// session's first run, which <see cref="Load"/> does.
    /// </summary>
    public static string? CudaUnavailableReason(int deviceId = 0)
    {
        using var session = CreateOptions(new ClassifierOptions { Device = InferenceDevice.Cuda, CudaDeviceId = deviceId }, out var failure);
        return failure;
    }

    private static SessionOptions CreateOptions(ClassifierOptions options, out string? cudaFailure)
    {
        cudaFailure = null;
        var session = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = options.ResolveIntraOpThreads(),
            InterOpNumThreads = 1,
        };
        session.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        if (options.LogNodePlacement)
        {
            session.LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_VERBOSE;
            session.LogId = "moderation-placement";
        }
        if (options.Device == InferenceDevice.Cpu) return session;
        try
        {
            session.AppendExecutionProvider_CUDA(options.CudaDeviceId);
        }
        catch (EntryPointNotFoundException e)
        {
            cudaFailure = $"this build carries the CPU-only ONNX Runtime ({e.Message})";
        }
        catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or TypeInitializationException)
        {
            cudaFailure = CudaProviderLoadError() is { } loader ? $"{e.Message} ({loader})" : e.Message;
        }
        return session;
    }

    /// <summary>
    /// The dynamic loader's own words for why the GPU package's CUDA provider library does not load: they name
    /// the missing CUDA or cuDNN library, which ONNX Runtime's exception ("Failed to load shared library") leaves
    /// to its native log. Null when the library loads (the failure is elsewhere) or is not there (CPU-only package).
    /// </summary>
    private static string? CudaProviderLoadError()
    {
        if (!OperatingSystem.IsLinux()) return null;
        // Where ONNX Runtime looks for it: next to libonnxruntime.so (the output folder with a RuntimeIdentifier).
        string[] candidates =
        [
            Path.Combine(AppContext.BaseDirectory, CudaProviderLibrary),
            Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", CudaProviderLibrary),
        ];
        foreach (string path in candidates.Where(File.Exists))
        {
            try
            {
                NativeLibrary.Free(NativeLibrary.Load(path));
                return null;
            }
            catch (DllNotFoundException e)
            {
                // .NET's message ends with dlerror()'s line, e.g. "libcublasLt.so.13: cannot open shared object file: …".
                string message = e.Message.TrimEnd();
                string dlerror = message[(message.LastIndexOf('\n') + 1)..].Trim();
                return $"{CudaProviderLibrary} does not load: {(dlerror.Length > 0 ? dlerror : e.Message)}";
            }
        }
        return null;
    }

    private const string CudaProviderLibrary = "libonnxruntime_providers_cuda.so";

    private static IEnumerable<int> PowersOfTwo(int max)
    {
        for (int b = 1; b <= max; b *= 2) yield return b;
    }

    private (string Input, string Output) CheckSignature(ModelDescriptor model, string path)
    {
        try
        {
            if (_session.InputMetadata.Count != 1 || _session.OutputMetadata.Count != 1)
                throw new InvalidDataException($"{model.VersionedName}: {path} must have one input and one output");
            var (inputName, input) = _session.InputMetadata.First();
            var (outputName, output) = _session.OutputMetadata.First();
            int s = model.InputSize;
            if (input.ElementType != typeof(float) || !input.Dimensions.AsSpan().SequenceEqual([-1, s, s, 3]))
                throw new InvalidDataException(
                    $"{model.VersionedName}: input '{inputName}' is [{string.Join(",", input.Dimensions)}], expected float [N,{s},{s},3]");
            if (output.ElementType != typeof(float) || !output.Dimensions.AsSpan().SequenceEqual([-1, model.Labels.Count]))
                throw new InvalidDataException(
                    $"{model.VersionedName}: output '{outputName}' is [{string.Join(",", output.Dimensions)}], expected float [N,{model.Labels.Count}]");
            return (inputName, outputName);
        }
        catch
        {
            _session.Dispose();
            _sessionOptions.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One concurrent caller's buffers, and the tensors and bindings over them, per batch size. The input lives in
    /// a GC-pinned managed array, or with <see cref="ClassifierOptions.CudaPinnedInput"/> on CUDA in page-locked host
    /// memory from the CUDA provider's pinned allocator (the host-to-device copy then runs by DMA, without a staging
    /// copy); if that allocator is not there, the lane says why in <see cref="HostMemoryNote"/> and uses the array.
    /// </summary>
    private sealed unsafe class Lane : IDisposable
    {
        private readonly OnnxImageClassifier _owner;
        private readonly Dictionary<int, (OrtValue Input, OrtValue Output, OrtIoBinding Binding)> _bindings = [];
        private readonly float[]? _input;
        private readonly OrtAllocator? _pinnedAllocator;
        private readonly OrtValue? _pinnedInput; // [MaxBatchSize,S,S,3] in page-locked memory; smaller batches are views of it
        private readonly float* _pinnedData;
        private readonly int _inputLength;

        public Lane(OnnxImageClassifier owner)
        {
            _owner = owner;
            _inputLength = owner.Options.MaxBatchSize * owner._perImage;
            Output = GC.AllocateArray<float>(owner.Options.MaxBatchSize * owner._labels, pinned: true);
            if (owner.IsCuda && owner.Options.CudaPinnedInput)
            {
                try
                {
                    using var info = new OrtMemoryInfo(OrtMemoryInfo.allocatorCUDA_PINNED, OrtAllocatorType.DeviceAllocator, 0, OrtMemType.CpuOutput);
                    _pinnedAllocator = new OrtAllocator(owner._session, info);
                    int s = owner.Model.InputSize;
                    _pinnedInput = OrtValue.CreateAllocatedTensorValue(_pinnedAllocator, TensorElementType.Float, [owner.Options.MaxBatchSize, s, s, 3]);
                    _pinnedData = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(_pinnedInput.GetTensorMutableDataAsSpan<float>()));
                    HostMemoryNote = "cuda-pinned";
                }
                catch (OnnxRuntimeException e)
                {
                    _pinnedInput?.Dispose();
                    _pinnedInput = null;
                    _pinnedAllocator?.Dispose();
                    _pinnedAllocator = null;
                    HostMemoryNote = $"managed (the CUDA pinned allocator is not available: {e.Message})";
                }
            }
            if (_pinnedInput is null)
            {
                _input = GC.AllocateArray<float>(_inputLength, pinned: true);
            }
        }

        /// <summary>"cuda-pinned", or "managed" (with the reason when pinned memory was asked for and not had).</summary>
        public string HostMemoryNote { get; } = "managed";

        public float[] Output { get; }

        public RunOptions RunOptions { get; } = new();

        /// <summary>The input rows [offset, offset + count) as floats.</summary>
        public Span<float> Input(int offset, int count) => _pinnedInput is not null
            ? new Span<float>(_pinnedData, _inputLength).Slice(offset, count)
            : _input.AsSpan(offset, count);

        public OrtIoBinding BindingFor(int batchSize)
        {
            if (_bindings.TryGetValue(batchSize, out var existing)) return existing.Binding;
            int s = _owner.Model.InputSize;
            long[] shape = [batchSize, s, s, 3];
            var input = _pinnedInput is not null
                ? OrtValue.CreateTensorValueWithData(_pinnedAllocator!.Info, TensorElementType.Float, shape, (IntPtr)_pinnedData, (long)batchSize * _owner._perImage * sizeof(float))
                : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _input.AsMemory(0, batchSize * _owner._perImage), shape);
            var output = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance,
                Output.AsMemory(0, batchSize * _owner._labels), [batchSize, _owner._labels]);
            var binding = _owner._session.CreateIoBinding();
            binding.BindInput(_owner._inputName, input);
            binding.BindOutput(_owner._outputName, output);
            _bindings[batchSize] = (input, output, binding);
            return binding;
        }

        public void Dispose()
        {
            foreach (var (input, output, binding) in _bindings.Values)
            {
                binding.Dispose();
                input.Dispose();
                output.Dispose();
            }
            _bindings.Clear();
            _pinnedInput?.Dispose();
            _pinnedAllocator?.Dispose();
            RunOptions.Dispose();
        }
    }
}
