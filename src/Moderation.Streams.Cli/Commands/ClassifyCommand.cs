using System.CommandLine;
using System.Text.Encodings.Web;
using System.Text.Json;
using Moderation.Streams.Contracts;
using Moderation.Streams.Inference;
using Moderation.Streams.Media;

namespace Moderation.Streams.Cli.Commands;

/// <summary>
/// <c>moderation classify [--model NAME] [--device cpu|cuda|auto] [--precision fp32|fp16|int8] FILE...</c>: one JSON line per file,
/// <c>{"path":…,"model":…,"scores":{"drawing":…,"hentai":…,"neutral":…,"porn":…,"sexy":…}}</c>.
/// Files that fail go to stderr with their error code; the rest are still classified; exit 1 if any failed.
/// </summary>
internal static class ClassifyCommand
{
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create()
    {
        var files = new Argument<string[]>("files")
        {
            Description = "Image files (JPEG, PNG, WebP, GIF, BMP) or videos (MP4, MOV, WebM: scores aggregated over sampled frames).",
            Arity = ArgumentArity.OneOrMore,
        };
        var model = new Option<string>("--model")
        {
            Description = $"Model to run; known: {string.Join(", ", ModelRegistry.All.Select(m => m.Name))}.",
            DefaultValueFactory = _ => ModelRegistry.DefaultModelName,
        };
        var device = new Option<InferenceDevice>("--device")
        {
            Description = "cpu, cuda (or fail, saying why) or auto (CUDA when usable, else the CPU, with the reason on stderr).",
            DefaultValueFactory = _ => InferenceDevice.Cpu,
        };
        var precision = new Option<InferencePrecision>("--precision")
        {
            Description = "fp32, fp16 for the model's float16 variant (meant for CUDA; on the CPU for parity checks), or int8 for its int8 variant (CPU only, faster there). " +
                          "Lines then carry \"precision\":\"fp16\" or \"int8\".",
            DefaultValueFactory = _ => InferencePrecision.Fp32,
        };
        var maxBytes = CommonOptions.MaxBytes();
        var command = new Command("classify", "Print each file's class scores (drawing, hentai, neutral, porn, sexy) as a JSON line.");
        command.Arguments.Add(files);
        command.Options.Add(model);
        command.Options.Add(device);
        command.Options.Add(precision);
        command.Options.Add(maxBytes);
        command.SetAction(parseResult =>
        {
            string modelName = parseResult.GetValue(model) ?? ModelRegistry.DefaultModelName;
            if (ModelRegistry.DescribeUnusable(modelName, parseResult.GetValue(precision)) is { } unusable)
            {
                Console.Error.WriteLine($"moderation classify: {unusable}");
                return ExitCodes.Usage;
            }

            OnnxImageClassifier classifier;
            try
            {
                classifier = OnnxImageClassifier.Load(modelName, options: new ClassifierOptions { Device = parseResult.GetValue(device), Precision = parseResult.GetValue(precision) });
            }
            catch (Exception e) when (e is FileNotFoundException or InvalidDataException or ExecutionProviderUnavailableException)
            {
                Console.Error.WriteLine($"moderation classify: {e.Message}");
                return ExitCodes.Failure;
            }
            if (classifier.DeviceFallbackReason is { } reason)
                Console.Error.WriteLine($"moderation classify: --device auto: CUDA is not usable, classifying on the CPU ({reason})");

            long cap = parseResult.GetValue(maxBytes);
            var limits = DecodeLimits.Default with { MaxBytes = cap };
            using (classifier)
            {
                return PerFile.Run("classify", parseResult.GetValue(files) ?? [], path =>
                {
                    // Videos (MP4/MOV/WebM, by their bytes): one line aggregated over the sampled frames (VideoFiles.cs).
                    if (VideoFiles.IsVideo(path))
                    {
                        Console.Out.WriteLine(VideoFiles.ClassifyLine(path, classifier, cap));
                        return;
                    }
                    var scores = classifier.Classify([ImageDecoder.DecodeFile(path, limits)])[0];
                    Console.Out.WriteLine(FormatLine(path, classifier.Model, scores));
                });
            }
        });
        return command;
    }

    /// <summary>The line's model fields: <c>"model"</c> (the name) and, for the float16 or int8 variant, <c>"precision":"fp16"</c> / <c>"int8"</c>.</summary>
    internal static void WriteModel(Utf8JsonWriter json, ModelDescriptor model)
    {
        json.WriteString("model", model.Name);
        if (model.Precision != InferencePrecision.Fp32) json.WriteString("precision", model.Precision == InferencePrecision.Fp16 ? "fp16" : "int8");
    }

    internal static string FormatLine(string path, ModelDescriptor model, ClassScores scores)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, JsonOptions))
        {
            json.WriteStartObject();
            json.WriteString("path", path);
            WriteModel(json, model);
            json.WriteStartObject("scores");
            for (int i = 0; i < scores.Labels.Count; i++) json.WriteNumber(scores.Labels[i], scores.Values[i]);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
