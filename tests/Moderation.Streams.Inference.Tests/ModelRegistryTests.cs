using System.Security.Cryptography;

namespace Moderation.Streams.Inference.Tests;

public sealed class ModelRegistryTests
{
    [Fact]
    public void Every_registered_model_file_has_the_checksum_the_registry_records()
    {
        // doctor and the worker's start check the files against these: a re-conversion must update them.
        foreach (var model in ModelRegistry.All)
        {
            Assert.Equal(model.Sha256, Sha256Of(model.FileName));
            if (model.Fp16FileName is { } fp16) Assert.Equal(model.Fp16Sha256, Sha256Of(fp16));
            if (model.Int8FileName is { } int8) Assert.Equal(model.Int8Sha256, Sha256Of(int8));
            Assert.Equal(model.Sha256, model.ModelSha256);
        }
    }

#if !ORT_GPU
    [Fact]
    public void The_cuda_provider_check_gives_a_reason_with_the_cpu_only_onnx_runtime()
    {
        // The default build carries the CPU-only ONNX Runtime, so CUDA can never be appended.
        var reason = OnnxImageClassifier.CudaUnavailableReason();
        Assert.NotNull(reason);
        Assert.Contains("CPU-only", reason);
    }
#endif

    private static string Sha256Of(string fileName) =>
        Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(OnnxImageClassifier.DefaultModelsDirectory, fileName))));
}
