using System.Security.Cryptography;
using Microsoft.ML.OnnxRuntime;

namespace Moderation.Streams.Inference.Tests;

/// <summary>
/// The float16 variants (<c>Inference:Precision=fp16</c>, made by tools/nsfwjs-convert/to_fp16.py) against the
/// float32 models on the 15 reference images, and how a classifier asked for fp16 reports, refuses and falls back
/// on this CPU-only build.
/// </summary>
public sealed class Fp16InferenceTests
{
    /// <summary>
    /// Largest |Δ| of any score between a float16 variant and its float32 model. Measured on the 15 reference images
    /// (models/MODEL_CARD.md): 8.0e-3 for nsfw-mobilenet-v2 run on the CPU (weights rounded to float16, and rounded
    /// again when ONNX Runtime folds batch normalisation into them), 4.8e-3 when every activation is rounded as CUDA's
    /// float16 kernels do (the --emulate model); 1.5e-3 for nsfw-mobilenet-v2-mid. Float16 keeps 11 significant bits
    /// (relative rounding 4.9e-4) through ~50 layers; the softmax passes a logit error δ on as at most δ/4 on a score.
    /// 1e-2 holds the worst measured case with 25% to spare and is far below any decision threshold's meaning — yet a
    /// score within 1e-2 of a threshold can change its action, which is why fp16 decisions carry their own version.
    /// </summary>
    internal const float Tolerance = 1e-2f;

    public static IEnumerable<TheoryDataRow<string>> ModelsWithFp16() =>
        ModelRegistry.All.Where(m => m.Fp16FileName is not null).Select(m => new TheoryDataRow<string>(m.Name));

    [Theory]
    [MemberData(nameof(ModelsWithFp16))]
    public void Fp16_scores_every_reference_image_within_1e2_of_fp32_with_the_same_top_label(string model)
    {
        var images = TestData.Reference.Select(TestData.Decode).ToArray();
        using var fp32 = OnnxImageClassifier.Load(model, options: new ClassifierOptions { Device = InferenceDevice.Cpu });
        using var fp16 = OnnxImageClassifier.Load(model, options: new ClassifierOptions { Device = InferenceDevice.Cpu, Precision = InferencePrecision.Fp16 });

        var expected = fp32.Classify(images);
        var actual = fp16.Classify(images);

        float max = 0;
        int identical = 0;
        for (int i = 0; i < images.Length; i++)
        {
            string file = TestData.Reference[i].File;
            for (int k = 0; k < ClassLabels.All.Count; k++)
            {
                float difference = Math.Abs(actual[i].Values[k] - expected[i].Values[k]);
                max = Math.Max(max, difference);
                if (difference == 0) identical++;
                Assert.True(difference <= Tolerance,
                    $"{model} {file} {ClassLabels.All[k]}: fp16 {actual[i].Values[k]:R}, fp32 {expected[i].Values[k]:R} (|Δ| {difference:E2})");
            }
            Assert.True(expected[i].TopLabel == actual[i].TopLabel, $"{model} {file}: top class fp32 {expected[i].TopLabel}, fp16 {actual[i].TopLabel}");
        }
        // The float16 graph really ran: its rounding moves (nearly) every score.
        int total = images.Length * ClassLabels.All.Count;
        Assert.True(identical < total / 2, $"{model}: {identical} of {total} scores are bit-identical to fp32");
        TestContext.Current.TestOutputHelper?.WriteLine($"{model}: fp16 vs fp32 on the CPU, max |Δ| {max:E2} over {images.Length} images");
    }

    [Fact]
    public void An_fp16_classifier_reports_its_precision_and_a_version_of_its_own()
    {
        using var classifier = OnnxImageClassifier.Load(options: new ClassifierOptions { Device = InferenceDevice.Cpu, Precision = InferencePrecision.Fp16 });

        Assert.Equal(InferencePrecision.Fp16, classifier.Precision);
        Assert.Equal(InferencePrecision.Fp16, classifier.Model.Precision);
        Assert.Equal("nsfw-mobilenet-v2@1+fp16", classifier.Model.VersionedName);
        Assert.NotEqual(ModelRegistry.NsfwMobileNetV2.VersionedName, classifier.Model.VersionedName);
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "models", "nsfw-mobilenet-v2.fp16.onnx"), classifier.ModelPath);
        Assert.Equal("cpu", classifier.Device);
        Assert.Null(classifier.DeviceFallbackReason); // the CPU was asked for: nothing fell back
    }

    [Fact]
    public void Fp16_for_a_model_without_a_float16_variant_is_refused_naming_the_models_that_have_one()
    {
        var withoutFp16 = ModelRegistry.All.Where(m => m.Fp16FileName is null).Select(m => m.Name).ToArray();
        Assert.Equal(["nsfw-inception-v3"], withoutFp16); // InceptionV3's variant is made on demand, not committed

        var error = Assert.Throws<ArgumentException>(() => OnnxImageClassifier.Load("nsfw-inception-v3",
            options: new ClassifierOptions { Device = InferenceDevice.Cpu, Precision = InferencePrecision.Fp16 }));

        Assert.Contains("'nsfw-inception-v3' has no fp16 variant", error.Message, StringComparison.Ordinal);
        Assert.Contains("models with one: nsfw-mobilenet-v2, nsfw-mobilenet-v2-mid", error.Message, StringComparison.Ordinal);
        Assert.Contains("to_fp16.py", error.Message, StringComparison.Ordinal);
        // Refused the same way where auto would have fallen back to fp32: a configuration error on every machine.
        Assert.Throws<ArgumentException>(() => OnnxImageClassifier.Load("nsfw-inception-v3",
            options: new ClassifierOptions { Device = InferenceDevice.Auto, Precision = InferencePrecision.Fp16 }));
    }

    [Fact]
    public void Auto_that_falls_back_to_the_cpu_runs_the_fp32_model_and_says_why()
    {
        ExecutionProviderTests.SkipWhereCudaCanLoad();
        var image = TestData.Decode(TestData.Reference[0]);
        using var fp32 = OnnxImageClassifier.Load(options: new ClassifierOptions { Device = InferenceDevice.Cpu });

        using var classifier = OnnxImageClassifier.Load(options: new ClassifierOptions { Device = InferenceDevice.Auto, Precision = InferencePrecision.Fp16 });

        Assert.Equal("cpu", classifier.Device);
        Assert.Equal(InferencePrecision.Fp32, classifier.Precision);
        Assert.Equal("nsfw-mobilenet-v2@1", classifier.Model.VersionedName);
        Assert.Equal(fp32.ModelPath, classifier.ModelPath);
        Assert.NotNull(classifier.DeviceFallbackReason);
        Assert.Contains(ExecutionProviderTests.ExpectedReason, classifier.DeviceFallbackReason, StringComparison.Ordinal); // why CUDA failed
        Assert.Contains("Inference:Precision=fp16 is for CUDA, so the fp32 model runs", classifier.DeviceFallbackReason, StringComparison.Ordinal);
        Assert.Equal(fp32.Classify([image])[0].Values, classifier.Classify([image])[0].Values);
    }

    [Theory]
    [MemberData(nameof(ModelsWithFp16))]
    public void The_committed_fp16_file_was_made_from_the_committed_fp32_file(string model)
    {
        var descriptor = ModelRegistry.Get(model);
        string models = OnnxImageClassifier.DefaultModelsDirectory;
        using var session = new InferenceSession(Path.Combine(models, descriptor.Fp16FileName!));

        var metadata = session.ModelMetadata.CustomMetadataMap;
        Assert.Equal("fp16", metadata["precision"]);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(models, descriptor.FileName)))),
            metadata["fp32_source_sha256"]);
        // What the C# side binds: one float32 input [N,S,S,3] and one float32 output [N,labels], as for fp32.
        Assert.Equal(typeof(float), session.InputMetadata.Single().Value.ElementType);
        Assert.Equal([-1, descriptor.InputSize, descriptor.InputSize, 3], session.InputMetadata.Single().Value.Dimensions);
        Assert.Equal(typeof(float), session.OutputMetadata.Single().Value.ElementType);
        Assert.Equal([-1, descriptor.Labels.Count], session.OutputMetadata.Single().Value.Dimensions);
    }

    /// <summary>
    /// ONNX Runtime's CPU provider runs most float16 nodes in float32 (it casts around kernels it lacks), so the CPU
    /// run above shows mostly the weights' rounding. On CUDA every activation is float16 too: to_fp16.py --emulate
    /// makes a float32 model that rounds each activation to float16 values, and it must stay within the tolerance too.
    /// </summary>
    [Theory]
    [MemberData(nameof(ModelsWithFp16))]
    public async Task Fp16_rounding_of_every_activation_as_on_cuda_stays_within_1e2_of_fp32(string model)
    {
        var ct = TestContext.Current.CancellationToken;
        var (pythonOk, pythonOutput) = await ConversionReproducibilityTests.RunAsync("/usr/bin/python3", ["-c", "import onnx, numpy"], null, TimeSpan.FromSeconds(30), ct);
        if (!pythonOk) Assert.Skip($"/usr/bin/python3 with python3-onnx and python3-numpy is not available: {pythonOutput}");
        var descriptor = ModelRegistry.Get(model);
        var temp = Directory.CreateTempSubdirectory("fp16-emulated-");
        try
        {
            var (ok, output) = await ConversionReproducibilityTests.RunAsync("/usr/bin/python3",
                [ConversionReproducibilityTests.ToFp16Script, "--emulate", Path.Combine(TestData.RepoRoot, "models", descriptor.FileName),
                 Path.Combine(temp.FullName, descriptor.FileName)], TestData.RepoRoot, TimeSpan.FromMinutes(2), ct);
            Assert.True(ok, $"to_fp16.py --emulate failed:\n{output}");
            var images = TestData.Reference.Select(TestData.Decode).ToArray();
            using var fp32 = OnnxImageClassifier.Load(model);
            using var emulated = OnnxImageClassifier.Load(model, modelsDirectory: temp.FullName);

            var expected = fp32.Classify(images);
            var actual = emulated.Classify(images);

            float max = 0;
            for (int i = 0; i < images.Length; i++)
            {
                for (int k = 0; k < ClassLabels.All.Count; k++)
                    max = Math.Max(max, Math.Abs(actual[i].Values[k] - expected[i].Values[k]));
                Assert.Equal(expected[i].TopLabel, actual[i].TopLabel);
            }
            Assert.InRange(max, 1e-6f, Tolerance); // above 0: the rounding is really in the graph
            TestContext.Current.TestOutputHelper?.WriteLine($"{model}: emulated fp16 activations vs fp32, max |Δ| {max:E2}");
        }
        finally
        {
            temp.Delete(recursive: true);
        }
    }

    /// <summary>The same comparison on CUDA, where fp16 is meant to run; skipped on machines (and builds) without it.</summary>
    [Theory]
    [MemberData(nameof(ModelsWithFp16))]
    public void On_cuda_fp16_scores_every_reference_image_within_1e2_of_fp32(string model)
    {
        OnnxImageClassifier fp16, fp32;
        try
        {
            fp16 = OnnxImageClassifier.Load(model, options: new ClassifierOptions { Device = InferenceDevice.Cuda, Precision = InferencePrecision.Fp16 });
        }
        catch (ExecutionProviderUnavailableException e)
        {
            Assert.Skip($"CUDA is not usable here: {e.Message}");
            return;
        }
        using (fp16)
        using (fp32 = OnnxImageClassifier.Load(model, options: new ClassifierOptions { Device = InferenceDevice.Cuda }))
        {
            Assert.Equal(InferencePrecision.Fp16, fp16.Precision);
            var images = TestData.Reference.Select(TestData.Decode).ToArray();
            var expected = fp32.Classify(images);
            var actual = fp16.Classify(images);
            // No separate top-class check here: where a class leads by more than 2x the tolerance it cannot change, and
            // one reference image is a near tie (fractal-plasma-400x300.png: porn 0.505, neutral 0.489) that may.
            float max = 0;
            for (int i = 0; i < images.Length; i++)
            {
                for (int k = 0; k < ClassLabels.All.Count; k++)
                {
                    float difference = Math.Abs(actual[i].Values[k] - expected[i].Values[k]);
                    max = Math.Max(max, difference);
                    Assert.True(difference <= Tolerance, $"{model} {TestData.Reference[i].File} {ClassLabels.All[k]} on CUDA: |Δ| {difference:E2}");
                }
            }
            TestContext.Current.TestOutputHelper?.WriteLine($"{model}: fp16 vs fp32 on {fp16.Device}, max |Δ| {max:E2}");
        }
    }
}
