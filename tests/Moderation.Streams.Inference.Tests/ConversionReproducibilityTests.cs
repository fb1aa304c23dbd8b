using System.Diagnostics;

namespace Moderation.Streams.Inference.Tests;

/// <summary>
/// The committed models are what tools/nsfwjs-convert/convert.sh makes from the npm package, byte for byte, and the
/// committed float16 and int8 variants are what to_fp16.py and to_int8.py make from the committed float32 files.
/// </summary>
public sealed class ConversionReproducibilityTests
{
    internal static string ToFp16Script { get; } = Path.Combine(TestData.RepoRoot, "tools", "nsfwjs-convert", "to_fp16.py");

    [Fact]
    public async Task Rerunning_to_fp16_on_the_committed_fp32_models_reproduces_the_committed_fp16_files()
    {
        var ct = TestContext.Current.CancellationToken;
        var (pythonOk, pythonOutput) = await RunAsync("/usr/bin/python3", ["-c", "import onnx, numpy"], null, TimeSpan.FromSeconds(30), ct);
        if (!pythonOk) Assert.Skip($"/usr/bin/python3 with python3-onnx and python3-numpy is not available: {pythonOutput}");

        var temp = Directory.CreateTempSubdirectory("to-fp16-");
        try
        {
            string models = Path.Combine(TestData.RepoRoot, "models");
            var withFp16 = ModelRegistry.All.Where(m => m.Fp16FileName is not null).ToArray();
            Assert.NotEmpty(withFp16);
            foreach (var model in withFp16)
            {
                string regenerated = Path.Combine(temp.FullName, model.Fp16FileName!);
                var (ok, output) = await RunAsync("/usr/bin/python3",
                    [ToFp16Script, Path.Combine(models, model.FileName), regenerated], TestData.RepoRoot, TimeSpan.FromMinutes(2), ct);
                Assert.True(ok, $"to_fp16.py failed for {model.Name}:\n{output}");
                Assert.True(File.ReadAllBytes(regenerated).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(models, model.Fp16FileName!))),
                    $"{model.Fp16FileName}: the regenerated file differs from the committed one");
            }
        }
        finally
        {
            temp.Delete(recursive: true);
        }
    }

    internal static string ToInt8Script { get; } = Path.Combine(TestData.RepoRoot, "tools", "nsfwjs-convert", "to_int8.py");

    /// <summary>to_int8.py (calibration included) gives the committed int8 files byte for byte, and so their registered SHA-256.</summary>
    [Theory]
    [MemberData(nameof(Int8InferenceTests.ModelsWithInt8), MemberType = typeof(Int8InferenceTests))]
    public async Task Rerunning_to_int8_on_the_committed_fp32_model_reproduces_the_committed_int8_file(string name)
    {
        var ct = TestContext.Current.CancellationToken;
        var (pythonOk, pythonOutput) = await RunAsync("/usr/bin/python3", ["-c", "import onnx, numpy"], null, TimeSpan.FromSeconds(30), ct);
        if (!pythonOk) Assert.Skip($"/usr/bin/python3 with python3-onnx and python3-numpy is not available: {pythonOutput}");

        var model = ModelRegistry.Get(name);
        var temp = Directory.CreateTempSubdirectory("to-int8-");
        try
        {
            string regenerated = Path.Combine(temp.FullName, model.Int8FileName!);
            var (ok, output) = await RunAsync("/usr/bin/python3",
                [ToInt8Script, Path.Combine(TestData.RepoRoot, "models", model.FileName), regenerated], TestData.RepoRoot, TimeSpan.FromMinutes(8), ct);
            Assert.True(ok, $"to_int8.py failed for {name}:\n{output}");
            Assert.Equal(model.Int8Sha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(regenerated))));
            Assert.True(File.ReadAllBytes(regenerated).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(TestData.RepoRoot, "models", model.Int8FileName!))),
                $"{model.Int8FileName}: the regenerated file differs from the committed one");
        }
        finally
        {
            temp.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Rerunning_the_conversion_from_the_npm_package_reproduces_the_committed_model()
    {
        var ct = TestContext.Current.CancellationToken;
        var (pythonOk, pythonOutput) = await RunAsync("/usr/bin/python3", ["-c", "import onnx, numpy"], null, TimeSpan.FromSeconds(30), ct);
        if (!pythonOk) Assert.Skip($"/usr/bin/python3 with python3-onnx and python3-numpy is not available: {pythonOutput}");
        var (npmOk, npmOutput) = await RunAsync("npm", ["ping"], null, TimeSpan.FromSeconds(30), ct);
        if (!npmOk) Assert.Skip($"the npm registry is not reachable (npm ping: {npmOutput})");

        var temp = Directory.CreateTempSubdirectory("nsfwjs-convert-");
        try
        {
            string models = Path.Combine(temp.FullName, "models");
            var script = Path.Combine(TestData.RepoRoot, "tools", "nsfwjs-convert", "convert.sh");
            var (ok, output) = await RunAsync("bash",
                [script, "--work-dir", Path.Combine(temp.FullName, "work"), "--models-dir", models, "--no-reference"],
                TestData.RepoRoot, TimeSpan.FromMinutes(15), ct);
            Assert.True(ok, $"convert.sh failed:\n{output}");

            var images = TestData.Reference.Select(TestData.Decode).ToArray();
            foreach (var model in ModelRegistry.All)
            {
                using var committed = OnnxImageClassifier.Load(model.Name);
                using var regenerated = OnnxImageClassifier.Load(model.Name, modelsDirectory: models);
                var expected = committed.Classify(images);
                var actual = regenerated.Classify(images);
                for (int i = 0; i < images.Length; i++) Assert.Equal(expected[i].Values, actual[i].Values);
                Assert.True(File.ReadAllBytes(regenerated.ModelPath).AsSpan().SequenceEqual(File.ReadAllBytes(committed.ModelPath)),
                    $"{model.FileName}: the regenerated file differs from the committed one");
                if (model.Int8FileName is { } int8)
                    Assert.True(File.ReadAllBytes(Path.Combine(models, int8)).AsSpan().SequenceEqual(
                            File.ReadAllBytes(Path.Combine(OnnxImageClassifier.DefaultModelsDirectory, int8))),
                        $"{int8}: the regenerated file differs from the committed one");
                if (model.Fp16FileName is { } fp16)
                    Assert.True(File.ReadAllBytes(Path.Combine(models, fp16)).AsSpan().SequenceEqual(
                            File.ReadAllBytes(Path.Combine(OnnxImageClassifier.DefaultModelsDirectory, fp16))),
                        $"{fp16}: the regenerated file differs from the committed one");
            }
        }
        finally
        {
            temp.Delete(recursive: true);
        }
    }

    internal static async Task<(bool Ok, string Output)> RunAsync(
        string file, string[] args, string? workingDirectory, TimeSpan timeout, CancellationToken ct)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (false, $"{file} cannot be started: {e.Message}");
        }
        using (process)
        using (var cts = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            cts.CancelAfter(timeout);
            var stdout = process.StandardOutput.ReadToEndAsync(cts.Token);
            var stderr = process.StandardError.ReadToEndAsync(cts.Token);
            try
            {
                await process.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                process.Kill(entireProcessTree: true);
                return (false, $"{file} did not finish within {timeout}");
            }
            var output = (await stdout + await stderr).Trim();
            return (process.ExitCode == 0, output);
        }
    }
}
