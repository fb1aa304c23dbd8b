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
                return ClassifyAll(parseResult.GetValue(files) ?? [], classifier, limits, cap, Environment.ProcessorCount);
            }
        });
        return command;
    }

    /// <summary>
    /// Files are decoded on <paramref name="decoders"/> threads at once, up to a window ahead of the one being
    /// printed; the model runs on whatever run of decoded pictures is ready next in file order (at least one, at most
    /// the model's batch size): a batch forms from what decoding delivered while the previous batch ran, as the
    /// worker's dynamic batcher does. Lines and error lines come out in the files' order. Videos are handled in turn
    /// on this thread (their frames are sampled and batched by <see cref="VideoFiles"/>).
    /// </summary>
    internal static int ClassifyAll(IReadOnlyList<string> paths, OnnxImageClassifier classifier, DecodeLimits limits, long cap, int decoders)
    {
        int batchMax = Math.Max(1, classifier.Options.MaxBatchSize);
        // Decoded pictures held at once: a batch being filled plus one in decoding per thread.
        int window = Math.Max(1, decoders) + batchMax;
        var pending = new Task<DecodedImage?>?[paths.Count];
        using var slots = new SemaphoreSlim(Math.Max(1, decoders));
        int started = 0;
        void StartUpTo(int end)
        {
            for (; started < Math.Min(end, paths.Count); started++)
            {
                string path = paths[started];
                pending[started] = Task.Run(async () =>
                {
                    await slots.WaitAsync().ConfigureAwait(false);
                    try
                    {
                        // null: a video, classified in turn on the main thread.
                        return VideoFiles.IsVideo(path) ? null : ImageDecoder.DecodeFile(path, limits);
                    }
                    finally
                    {
                        slots.Release();
                    }
                });
            }
        }

        bool failed = false;
        var batch = new List<(string Path, DecodedImage Image)>(batchMax);
        for (int next = 0; next < paths.Count;)
        {
            StartUpTo(next + window);
            batch.Clear();
            int first = next;
            // The next file in order is waited for; the ones after it join its batch only if already decoded.
            for (int i = first; i < paths.Count && batch.Count < batchMax; i++)
            {
                var task = pending[i]!;
                if (i > first && !task.IsCompleted) break;
                var (image, error) = Await(task);
                if (image is null && error is null && batch.Count > 0) break; // a video: the batch runs first
                next = i + 1;
                pending[i] = null;
                if (error is not null)
                {
                    // In order: the batch so far is printed first.
                    failed |= Flush(batch, classifier);
                    Console.Error.WriteLine(ErrorLine(paths[i], error));
                    failed = true;
                    continue;
                }
                if (image is null)
                {
                    try
                    {
                        Console.Out.WriteLine(VideoFiles.ClassifyLine(paths[i], classifier, cap));
                    }
                    catch (Exception e) when (e is ModerationException or IOException or UnauthorizedAccessException)
                    {
                        Console.Error.WriteLine(ErrorLine(paths[i], e));
                        failed = true;
                    }
                    break;
                }
                batch.Add((paths[i], image));
            }
            failed |= Flush(batch, classifier);
        }
        return failed ? ExitCodes.Failure : ExitCodes.Ok;
    }

    private static (DecodedImage? Image, Exception? Error) Await(Task<DecodedImage?> task)
    {
        try
        {
            return (task.GetAwaiter().GetResult(), null);
        }
        catch (Exception e) when (e is ModerationException or IOException or UnauthorizedAccessException)
        {
            return (null, e);
        }
    }

    // The batch's lines, in order; false (nothing failed) — a model failure is not a per-file error and propagates.
    private static bool Flush(List<(string Path, DecodedImage Image)> batch, OnnxImageClassifier classifier)
    {
        if (batch.Count == 0) return false;
        var scores = classifier.Classify([.. batch.Select(b => b.Image)]);
        for (int i = 0; i < batch.Count; i++) Console.Out.WriteLine(FormatLine(batch[i].Path, classifier.Model, scores[i]));
        batch.Clear();
        return false;
    }

    // PerFile's error line: moderation classify: PATH: CODE: MESSAGE.
    private static string ErrorLine(string path, Exception e) => e is ModerationException m
        ? $"moderation classify: {path}: {m.Code}: {m.Message}"
        : $"moderation classify: {path}: {ErrorCodes.MediaUnavailable}: {e.Message}";

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
