using Moderation.Streams.Text.Embeddings;

namespace Moderation.Streams.Worker.Tests;

/// <summary>The doctor's <c>sentence-model</c> check: the model files the meaning banks need, for the precision set.</summary>
public sealed class SentenceModelCheckTests
{
    private static readonly string Missing = Path.Combine(Path.GetTempPath(), $"absent-{Guid.NewGuid():N}");

    [Fact]
    public void Both_files_beside_the_program_are_ok_and_named()
    {
        Assert.True(File.Exists(SentenceEmbedder.DefaultAssemblyPath) && File.Exists(SentenceEmbedder.DefaultInt8Path), "the build copies both to models/");

        var int8 = WorkerDoctor.CheckSentenceModel(null);
        var fp32 = WorkerDoctor.CheckSentenceModel(new TextOptions { ModelPrecision = SentencePrecision.Fp32 });

        Assert.Equal((CheckStatus.Ok, $"all-MiniLM-L6-v2+int8 ({SentenceEmbedder.DefaultInt8Path})"), (int8.Status, int8.Detail));
        Assert.Equal((CheckStatus.Ok, $"all-MiniLM-L6-v2 float32 ({SentenceEmbedder.DefaultAssemblyPath})"), (fp32.Status, fp32.Detail));
    }

    [Fact]
    public void A_missing_int8_file_warns_for_int8_only_and_names_the_way_out()
    {
        var int8 = WorkerDoctor.CheckSentenceModel(null, int8Path: Missing);
        var fp32 = WorkerDoctor.CheckSentenceModel(new TextOptions { ModelPrecision = SentencePrecision.Fp32 }, int8Path: Missing);

        Assert.Equal(CheckStatus.Warn, int8.Status);
        Assert.Contains($"{Missing} not found (Text:ModelPrecision=Int8)", int8.Detail);
        Assert.Contains("texts fail closed", int8.Detail);
        Assert.Contains("Text:ModelPrecision=Fp32", int8.Fix);
        Assert.Equal(CheckStatus.Ok, fp32.Status);
    }

    [Fact]
    public void A_missing_package_assembly_warns_whatever_the_precision()
    {
        foreach (var precision in new[] { SentencePrecision.Int8, SentencePrecision.Fp32 })
        {
            var check = WorkerDoctor.CheckSentenceModel(new TextOptions { ModelPrecision = precision }, assemblyPath: Missing);
            Assert.Equal(CheckStatus.Warn, check.Status);
            Assert.StartsWith($"{Missing} not found", check.Detail, StringComparison.Ordinal);
        }
    }
}
