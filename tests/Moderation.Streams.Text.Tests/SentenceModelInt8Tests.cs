using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Moderation.Streams.Text.Embeddings;

namespace Moderation.Streams.Text.Tests;

/// <summary>
/// The int8 sentence model (models/all-MiniLM-L6-v2.int8.onnx, the default) against the package's float32 model: the
/// same vectors up to quantization, the same meaning-bank answers, refused when made from another model, and what
/// tools/minilm-int8/to_int8.py makes from the float32 model byte for byte.
/// </summary>
public sealed class SentenceModelInt8Tests
{
    private static readonly string[] Sentences =
    [
        "Send me your bank login and I will double your money in a day",
        "give me your online banking password and I'll double your cash by tomorrow",
        "DM me to buy cheap pills without a prescription",
        "You are worthless and everyone would be happier if you disappeared",
        "what a lovely day at the beach with my friends",
        "check out my new video, we made pancakes for breakfast",
        "free crypto giveaway, send 1 BTC and receive 2 BTC back",
        "the city council meets on tuesday to discuss the new park",
        "i love this song so much, on repeat all week",
        "click the link in my bio for a surprise",
        "a",
        "1234 5678 !!!",
    ];

    [Fact]
    public void The_int8_model_is_the_default_and_its_vectors_are_the_float32_ones_up_to_quantization()
    {
        using var fp32 = SentenceEmbedder.Load(precision: SentencePrecision.Fp32);
        using var int8 = SentenceEmbedder.Load();

        Assert.Equal("all-MiniLM-L6-v2", fp32.Name);
        Assert.Equal("all-MiniLM-L6-v2+int8", int8.Name);
        var a = fp32.Embed(Sentences);
        var b = int8.Embed(Sentences);
        for (int i = 0; i < Sentences.Length; i++)
        {
            float cosine = VectorMath.Dot(a[i], b[i]);
            Assert.True(cosine >= 0.98f, $"'{Sentences[i]}': cosine {cosine} between the float32 and int8 vectors");
        }
        // Pairwise similarities (what a bank threshold is compared with) move by little.
        for (int i = 0; i < Sentences.Length; i++)
            for (int j = i + 1; j < Sentences.Length; j++)
            {
                float moved = Math.Abs(VectorMath.Dot(a[i], a[j]) - VectorMath.Dot(b[i], b[j]));
                Assert.True(moved <= 0.05f, $"'{Sentences[i]}' / '{Sentences[j]}': similarity moved by {moved}");
            }
    }

    [Fact]
    public void An_int8_vector_does_not_depend_on_the_texts_batched_with_it()
    {
        using var int8 = SentenceEmbedder.Load();

        var together = int8.Embed(Sentences);
        for (int i = 0; i < Sentences.Length; i++) Assert.Equal(int8.Embed([Sentences[i]])[0], together[i]);
        Assert.Equal(together[0], int8.Embed([Sentences[0], Sentences[5]])[0]);
    }

    [Fact]
    public void The_int8_model_gives_the_same_bank_answers_as_the_float32_one()
    {
        using var fp32 = SentenceEmbedder.Load(precision: SentencePrecision.Fp32);
        using var int8 = SentenceEmbedder.Load();
        string[] bank = [Sentences[0], Sentences[2], Sentences[3], Sentences[6]];
        string[] queries = [Sentences[1], "buy pills with no prescription, DM me", "everyone would be better off if you were gone", Sentences[4], Sentences[7], "send one bitcoin get two back"];

        int[] Best(SentenceEmbedder model, out float[] similarities)
        {
            var banked = model.Embed(bank);
            var asked = model.Embed(queries);
            similarities = asked.Select(q => banked.Max(v => VectorMath.Dot(v, q))).ToArray();
            return asked.Select(q => Enumerable.Range(0, bank.Length).MaxBy(k => VectorMath.Dot(banked[k], q))).ToArray();
        }

        var bestFp32 = Best(fp32, out var simFp32);
        var bestInt8 = Best(int8, out var simInt8);
        Assert.Equal(bestFp32, bestInt8);
        // On which side of the default threshold each query falls: the same.
        Assert.Equal(simFp32.Select(s => s >= MeaningBank.DefaultThreshold), simInt8.Select(s => s >= MeaningBank.DefaultThreshold));
    }

    [Fact]
    public void An_int8_file_made_from_another_model_or_missing_is_refused_with_the_reason()
    {
        var bytes = File.ReadAllBytes(SentenceEmbedder.DefaultInt8Path);
        var (fp32, _) = SentenceEmbedder.ReadResources(SentenceEmbedder.DefaultAssemblyPath);
        var source = Encoding.ASCII.GetBytes(Convert.ToHexStringLower(SHA256.HashData(fp32)));
        int at = bytes.AsSpan().IndexOf(source);
        Assert.True(at > 0, "the int8 file records the float32 model's sha256");
        source.AsSpan().Reverse(); // another model's digest, same length: the file stays a valid model
        source.CopyTo(bytes.AsSpan(at));
        var temp = Path.Combine(Path.GetTempPath(), $"int8-{Guid.NewGuid():N}.onnx");
        try
        {
            File.WriteAllBytes(temp, bytes);
            var wrong = Assert.Throws<InvalidDataException>(() => SentenceEmbedder.Load(int8Path: temp));
            Assert.Contains("was not made from the float32 model", wrong.Message);
        }
        finally
        {
            File.Delete(temp);
        }
        var missing = Assert.Throws<FileNotFoundException>(() => SentenceEmbedder.Load(int8Path: temp));
        Assert.Contains("Text:ModelPrecision=fp32", missing.Message);
    }

    [Fact]
    public async Task Rerunning_to_int8_on_the_packages_float32_model_reproduces_the_committed_file()
    {
        var ct = TestContext.Current.CancellationToken;
        if (!await PythonWithOnnxAsync(ct)) Assert.Skip("/usr/bin/python3 with python3-onnx and python3-numpy is not available");
        string root = RepoRoot();
        var temp = Directory.CreateTempSubdirectory("minilm-int8-");
        try
        {
            var (fp32, _) = SentenceEmbedder.ReadResources(SentenceEmbedder.DefaultAssemblyPath);
            string source = Path.Combine(temp.FullName, "model.onnx"), target = Path.Combine(temp.FullName, SentenceEmbedder.Int8FileName);
            await File.WriteAllBytesAsync(source, fp32, ct);
            using var script = Process.Start(new ProcessStartInfo("/usr/bin/python3", [Path.Combine(root, "tools", "minilm-int8", "to_int8.py"), source, target])
            {
                RedirectStandardOutput = true, RedirectStandardError = true,
            })!;
            string output = await script.StandardOutput.ReadToEndAsync(ct) + await script.StandardError.ReadToEndAsync(ct);
            await script.WaitForExitAsync(ct);
            Assert.True(script.ExitCode == 0, output);
            Assert.True(File.ReadAllBytes(target).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(root, "models", SentenceEmbedder.Int8FileName))),
                "the regenerated int8 model differs from the committed one");
        }
        finally
        {
            temp.Delete(recursive: true);
        }
    }

    private static async Task<bool> PythonWithOnnxAsync(CancellationToken ct)
    {
        if (!File.Exists("/usr/bin/python3")) return false;
        using var probe = Process.Start(new ProcessStartInfo("/usr/bin/python3", ["-c", "import onnx, numpy"]) { RedirectStandardError = true })!;
        await probe.WaitForExitAsync(ct);
        return probe.ExitCode == 0;
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Moderation.Streams.sln"))) return dir.FullName;
        throw new InvalidOperationException("the repository root was not found above " + AppContext.BaseDirectory);
    }
}
