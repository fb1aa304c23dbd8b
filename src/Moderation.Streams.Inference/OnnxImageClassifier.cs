using System.Buffers;
using Microsoft.ML.OnnxRuntime;
using Moderation.Streams.Media;

namespace Moderation.Streams.Inference;

/// <summary>
/// Runs a registered model with ONNX Runtime on the CPU. The model takes NHWC float32 [N,S,S,3] in [0,1]
/// (dynamic batch) and returns [N,labels] probabilities. Thread-safe: ONNX Runtime sessions allow
/// concurrent <c>Run</c> calls.
/// </summary>
public sealed class OnnxImageClassifier : IImageClassifier
{
    private readonly InferenceSession _session;
    private readonly SessionOptions _options;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private volatile bool _disposed;

    private OnnxImageClassifier(ModelDescriptor model, string modelPath, SessionOptions options)
    {
        _options = options;
        try
        {
            _session = new InferenceSession(modelPath, options);
        }
        catch (OnnxRuntimeException e)
        {
            options.Dispose();
            throw new InvalidDataException($"{model.VersionedName}: {modelPath} is not a loadable ONNX model: {e.Message}", e);
        }
        Model = model;
        ModelPath = modelPath;
        (_inputNames, _outputNames) = CheckSignature(model, modelPath);
    }

    public ModelDescriptor Model { get; }
    public string Device => "cpu";
    public string ModelPath { get; }

    /// <summary><c>AppContext.BaseDirectory/models</c>: where the build copies the committed models.</summary>
    public static string DefaultModelsDirectory => Path.Combine(AppContext.BaseDirectory, "models");

    /// <summary>Loads a registered model from <paramref name="modelsDirectory"/> (default <see cref="DefaultModelsDirectory"/>).</summary>
    /// <param name="intraOpThreads">Threads one inference may use; 0 = one per core.</param>
    /// <exception cref="ArgumentException">Unknown model name (the message lists the known ones).</exception>
    /// <exception cref="FileNotFoundException">The model file is missing.</exception>
    public static OnnxImageClassifier Load(
        string modelName = ModelRegistry.DefaultModelName, string? modelsDirectory = null, int intraOpThreads = 0)
    {
        var model = ModelRegistry.Get(modelName);
        var path = Path.GetFullPath(Path.Combine(modelsDirectory ?? DefaultModelsDirectory, model.FileName));
        if (!File.Exists(path))
            throw new FileNotFoundException(
                $"{model.VersionedName}: model file not found at {path} (built by tools/nsfwjs-convert/convert.sh, " +
                "copied to the output's models/ folder by the Inference project)", path);
        return new OnnxImageClassifier(model, path, CreateOptions(intraOpThreads));
    }

    public IReadOnlyList<ClassScores> Classify(IReadOnlyList<DecodedImage> images)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) return [];

        int size = Model.InputSize, perImage = size * size * 3, labels = Model.Labels.Count;
        int length = checked(images.Count * perImage);
        var buffer = ArrayPool<float>.Shared.Rent(length);
        try
        {
            for (int i = 0; i < images.Count; i++)
                Preprocessor.Write(images[i], size, buffer.AsSpan(i * perImage, perImage));

            using var input = OrtValue.CreateTensorValueFromMemory(
                OrtMemoryInfo.DefaultInstance, buffer.AsMemory(0, length), [images.Count, size, size, 3]);
            using var runOptions = new RunOptions();
            using var outputs = _session.Run(runOptions, _inputNames, [input], _outputNames);
            var probabilities = outputs[0].GetTensorDataAsSpan<float>();
            if (probabilities.Length != images.Count * labels)
                throw new InvalidOperationException($"{Model.VersionedName} returned {probabilities.Length} values for {images.Count} images");

            var result = new ClassScores[images.Count];
            for (int i = 0; i < result.Length; i++)
                result[i] = new ClassScores(Model.Labels, probabilities.Slice(i * labels, labels).ToArray());
            return result;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(buffer);
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _session.Dispose();
        _options.Dispose();
    }

    // Sequential execution, no inter-op pool, and no spin-waiting: on a 2-core box the worker's other
    // stages need the cores that spinning threads would burn between batches.
    private static SessionOptions CreateOptions(int intraOpThreads)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(intraOpThreads);
        var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = intraOpThreads > 0 ? intraOpThreads : Environment.ProcessorCount,
            InterOpNumThreads = 1,
        };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return options;
    }

    private (string[] Inputs, string[] Outputs) CheckSignature(ModelDescriptor model, string path)
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
            return ([inputName], [outputName]);
        }
        catch
        {
            Dispose();
            throw;
        }
    }
}
