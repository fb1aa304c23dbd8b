using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;

namespace Moderation.Streams.Inference.Tests;

/// <summary>
/// The int8 variants (<c>Inference:Precision=int8</c>, made by tools/nsfwjs-convert/to_int8.py) against the float32
/// models on the 15 reference images, and how a classifier asked for int8 reports itself, runs on the CPU and refuses CUDA.
/// </summary>
public sealed class Int8InferenceTests
{
    /// <summary>
    /// Largest |Δ| of any score between an int8 variant and its float32 model on the 15 reference images; the measured
    /// figures are in models/MODEL_CARD.md. 8-bit activations (per tensor) and weights (per channel) round each layer by
    /// ~0.5–1% of its range through ~50 layers; the bias correction takes out the mean shift, not the noise. A bound well
    /// above the float16 one (1e-2), yet one that a broken graph (a wrong scale, a lost bias) exceeds at once.
    /// </summary>
    internal const float Tolerance = 0.1f;

    public static IEnumerable<TheoryDataRow<string>> ModelsWithInt8() =>
        ModelRegistry.All.Where(m => m.Int8FileName is not null).Select(m => new TheoryDataRow<string>(m.Name));

    /// <summary>
    /// Every score within <see cref="Tolerance"/> of fp32, and the fp32 top label kept wherever it leads the runner-up by
    /// more than twice the tolerance (there it cannot change). Issue 17 asks for the same top label on ≥ 99% of the
    /// reference images: the count is printed, and models/MODEL_CARD.md records it — nsfw-mobilenet-v2 keeps 14 of 15,
    /// flipping the near tie fractal-plasma-400x300.png (fp32 porn 0.505 vs neutral 0.489), so that goal is not met there.
    /// </summary>
    [Theory]
    [MemberData(nameof(ModelsWithInt8))]
    public void Int8_scores_every_reference_image_within_the_tolerance_and_keeps_every_clear_top_label(string model)
    {
        var images = TestData.Reference.Select(TestData.Decode).ToArray();
        using var fp32 = OnnxImageClassifier.Load(model, options: new ClassifierOptions { Device = InferenceDevice.Cpu });
        using var int8 = OnnxImageClassifier.Load(model, options: new ClassifierOptions { Device = InferenceDevice.Cpu, Precision = InferencePrecision.Int8 });

        var expected = fp32.Classify(images);
        var actual = int8.Classify(images);

        float max = 0;
        int same = 0;
        var lines = new List<string>();
        for (int i = 0; i < images.Length; i++)
        {
            float imageMax = 0;
            for (int k = 0; k < ClassLabels.All.Count; k++)
                imageMax = Math.Max(imageMax, Math.Abs(actual[i].Values[k] - expected[i].Values[k]));
            max = Math.Max(max, imageMax);
            if (expected[i].TopLabel == actual[i].TopLabel) same++;
            lines.Add($"{TestData.Reference[i].File}: fp32 {expected[i].TopLabel} {expected[i].Values.Max():0.000} (lead {Lead(expected[i].Values):0.000}), " +
                      $"int8 {actual[i].TopLabel} {actual[i].Values.Max():0.000}, max |Δ| {imageMax:0.0000}");
        }
        string report = $"{model}: int8 vs fp32 on the CPU, top label equal on {same} of {images.Length}, max |Δ| {max:E2}\n{string.Join("\n", lines)}";
        TestContext.Current.TestOutputHelper?.WriteLine(report);
        Assert.True(max <= Tolerance, report);
        for (int i = 0; i < images.Length; i++)
            if (Lead(expected[i].Values) > 2 * Tolerance)
                Assert.True(expected[i].TopLabel == actual[i].TopLabel, $"{TestData.Reference[i].File}: a clear top label changed\n{report}");
        Assert.True(same >= images.Length - 1, report); // one near tie may flip (see above); a second flip is a regression
        Assert.True(max > 1e-4f, $"{model}: int8 scores within {max:E2} of fp32: the quantized graph did not run\n{report}");
    }

    private static float Lead(IReadOnlyList<float> scores)
    {
        var sorted = scores.OrderDescending().ToArray();
        return sorted[0] - sorted[1];
    }

    [Fact]
    public void An_int8_classifier_reports_its_precision_and_a_version_of_its_own_and_runs_on_the_cpu_under_auto()
    {
        using var classifier = OnnxImageClassifier.Load(options: new ClassifierOptions { Device = InferenceDevice.Auto, Precision = InferencePrecision.Int8 });

        Assert.Equal(InferencePrecision.Int8, classifier.Precision);
        Assert.Equal("nsfw-mobilenet-v2@1+int8", classifier.Model.VersionedName);
        Assert.Equal(ModelRegistry.NsfwMobileNetV2.Int8Sha256, classifier.Model.ModelSha256);
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "models", "nsfw-mobilenet-v2.int8.onnx"), classifier.ModelPath);
        Assert.Equal("cpu", classifier.Device);
        Assert.Null(classifier.DeviceFallbackReason); // int8 is for the CPU: auto does not try CUDA, so nothing fell back
    }

    [Fact]
    public void Int8_on_cuda_is_refused_saying_it_runs_on_the_cpu()
    {
        var error = Assert.Throws<ExecutionProviderUnavailableException>(() => OnnxImageClassifier.Load(
            options: new ClassifierOptions { Device = InferenceDevice.Cuda, Precision = InferencePrecision.Int8 }));

        Assert.Contains("Inference:Precision=int8 runs on the CPU execution provider only", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Int8_for_a_model_without_an_int8_variant_is_refused_naming_the_models_that_have_one()
    {
        Assert.Equal(["nsfw-inception-v3"], ModelRegistry.All.Where(m => m.Int8FileName is null).Select(m => m.Name));
        Assert.StartsWith("model 'nsfw-inception-v3' has no int8 variant", ModelRegistry.DescribeUnusable("nsfw-inception-v3", InferencePrecision.Int8), StringComparison.Ordinal);

        var error = Assert.Throws<ArgumentException>(() => OnnxImageClassifier.Load("nsfw-inception-v3",
            options: new ClassifierOptions { Device = InferenceDevice.Cpu, Precision = InferencePrecision.Int8 }));

        Assert.Contains("'nsfw-inception-v3' has no int8 variant", error.Message, StringComparison.Ordinal);
        Assert.Contains("models with one: nsfw-mobilenet-v2, nsfw-mobilenet-v2-mid", error.Message, StringComparison.Ordinal);
        Assert.Contains("to_int8.py", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(ModelsWithInt8))]
    public void The_committed_int8_file_was_made_from_the_committed_fp32_file_and_is_a_qdq_graph(string model)
    {
        var descriptor = ModelRegistry.Get(model);
        string models = OnnxImageClassifier.DefaultModelsDirectory;
        using var session = new InferenceSession(Path.Combine(models, descriptor.Int8FileName!));

        var metadata = session.ModelMetadata.CustomMetadataMap;
        Assert.Equal("int8", metadata["precision"]);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(models, descriptor.FileName)))),
            metadata["fp32_source_sha256"]);
        Assert.StartsWith("min/max over 100 synthetic 224x224 images", metadata["calibration"], StringComparison.Ordinal);
        Assert.Equal(typeof(float), session.InputMetadata.Single().Value.ElementType);
        Assert.Equal([-1, descriptor.InputSize, descriptor.InputSize, 3], session.InputMetadata.Single().Value.Dimensions);
        Assert.Equal(typeof(float), session.OutputMetadata.Single().Value.ElementType);
        Assert.Equal([-1, descriptor.Labels.Count], session.OutputMetadata.Single().Value.Dimensions);
    }

    /// <summary>
    /// ONNX Runtime really runs integer kernels: its profile of one run lists the kernels that ran, and every quantized
    /// Conv ran as QLinearConv (each residual Add as QLinearAdd), none as a float Conv between DequantizeLinear and
    /// QuantizeLinear.
    /// </summary>
    [Theory]
    [MemberData(nameof(ModelsWithInt8))]
    public void Onnx_runtime_runs_every_quantized_conv_as_qlinearconv(string model)
    {
        var descriptor = ModelRegistry.Get(model);
        var temp = Directory.CreateTempSubdirectory("int8-profile-");
        try
        {
            string profile;
            using (var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = 1 })
            {
                options.EnableProfiling = true;
                options.ProfileOutputPathPrefix = Path.Combine(temp.FullName, "profile");
                using var session = new InferenceSession(Path.Combine(OnnxImageClassifier.DefaultModelsDirectory, descriptor.Int8FileName!), options);
                var input = new float[descriptor.InputSize * descriptor.InputSize * 3];
                for (int i = 0; i < input.Length; i++) input[i] = (i % 251) / 255f;
                using var tensor = OrtValue.CreateTensorValueFromMemory(input, [1, descriptor.InputSize, descriptor.InputSize, 3]);
                using var outputs = session.Run(new RunOptions(), [session.InputNames[0]], [tensor], [session.OutputNames[0]]);
                profile = session.EndProfiling();
            }
            using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Environment.CurrentDirectory, profile) is var p && File.Exists(p) ? p : profile));
            var kernels = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
            foreach (var e in json.RootElement.EnumerateArray())
            {
                if (e.GetProperty("cat").GetString() != "Node" || !e.TryGetProperty("args", out var args) || !args.TryGetProperty("op_name", out var op)) continue;
                string name = e.GetProperty("name").GetString()!;
                if (!name.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
                kernels.TryAdd(op.GetString()!, new HashSet<string>(StringComparer.Ordinal));
                kernels[op.GetString()!].Add(name);
            }
            TestContext.Current.TestOutputHelper?.WriteLine($"{model}, kernels that ran: " +
                string.Join(", ", kernels.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value.Count}")));
            Assert.Equal(52, kernels.GetValueOrDefault("QLinearConv")?.Count ?? 0);
            Assert.False(kernels.ContainsKey("Conv"), "a float Conv ran");
            Assert.False(kernels.ContainsKey("FusedConv"), "a float FusedConv ran");
            Assert.Equal(10, kernels.GetValueOrDefault("QLinearAdd")?.Count ?? 0);
        }
        finally
        {
            temp.Delete(recursive: true);
        }
    }
}
