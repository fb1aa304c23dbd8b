using System.CommandLine;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Moderation.Streams.Inference;
using Moderation.Streams.Media;
using Moderation.Streams.Worker;

namespace Moderation.Streams.Cli.Commands.Bench;

/// <summary>
/// <c>bench shadow</c>: what a shadow model costs. The same stream of images through the dynamic batcher, with the
/// live model alone (baseline) and with a <see cref="ShadowClassifier"/> running the candidate on each live batch,
/// interleaved over rounds on one machine. Ratios: shadowed throughput / live-only throughput (the cost is 1 − it),
/// and the candidate alone / the live model alone (what the extra model weighs by itself).
/// </summary>
internal static class ShadowBench
{
    public static Command Create()
    {
        var live = new Option<string>("--model") { Description = "Live model.", DefaultValueFactory = _ => ModelRegistry.DefaultModelName };
        var candidate = new Option<string>("--shadow") { Description = "Shadow candidate model.", DefaultValueFactory = _ => "nsfw-mobilenet-v2-mid" };
        var device = new Option<InferenceDevice>("--device") { Description = "auto, cuda or cpu.", DefaultValueFactory = _ => InferenceDevice.Auto };
        var images = new Option<int>("--images")
        {
            Description = "Images per measurement.", DefaultValueFactory = _ => 256,
            Validators = { r => { if (r.GetValueOrDefault<int>() is < 1 or > 1_000_000) r.AddError("--images must be 1 to 1,000,000"); } },
        };
        var rounds = new Option<int>("--rounds")
        {
            Description = "Interleaved rounds; ratios are medians.", DefaultValueFactory = _ => 3,
            Validators = { r => { if (r.GetValueOrDefault<int>() is < 1 or > 100) r.AddError("--rounds must be 1 to 100"); } },
        };
        var command = new Command("shadow", "Throughput with a shadow model on the live batches vs the live model alone");
        foreach (var o in new Option[] { live, candidate, device, images, rounds }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            try
            {
                return Run(parse.GetValue(live)!, parse.GetValue(candidate)!, parse.GetValue(device), parse.GetValue(images), parse.GetValue(rounds));
            }
            catch (ArgumentException e)
            {
                // An unknown model name (the message lists the known ones).
                Console.Error.WriteLine($"moderation bench shadow: {e.Message}");
                return ExitCodes.Usage;
            }
            catch (Exception e) when (e is FileNotFoundException or InvalidDataException or ExecutionProviderUnavailableException)
            {
                Console.Error.WriteLine($"moderation bench shadow: {e.Message}");
                return ExitCodes.Failure;
            }
        });
        return command;
    }

    private static int Run(string liveName, string candidateName, InferenceDevice device, int count, int rounds)
    {
        var options = new ClassifierOptions { Device = device, MaxBatchSize = 16 };
        using var liveModel = OnnxImageClassifier.Load(liveName, options: options);
        using var candidateModel = OnnxImageClassifier.Load(candidateName, options: options);
        var shadow = new ShadowClassifier(liveModel, candidateModel, NullLogger.Instance);
        var pool = Enumerable.Range(0, 32).Select(i => ImageDecoder.Decode(SampleImages.Jpeg(9000 + i, 640, 480))).ToArray();
        Console.WriteLine($"live {liveModel.Model.VersionedName}, shadow {candidateModel.Model.VersionedName} on {liveModel.Device}; {count} images x {rounds} rounds");

        var shadowed = new List<double>();
        var alone = new List<double>();
        Measure(liveModel, pool, 32); // warm both paths
        Measure(shadow, pool, 32);
        for (int r = 0; r < rounds; r++)
        {
            double baseline = Measure(liveModel, pool, count);
            double withShadow = Measure(shadow, pool, count);
            double candidateOnly = Measure(candidateModel, pool, count);
            Console.WriteLine($"round {r + 1}: live alone {baseline:0.0} img/s, live+shadow {withShadow:0.0} img/s, candidate alone {candidateOnly:0.0} img/s");
            shadowed.Add(withShadow / baseline);
            alone.Add(candidateOnly / baseline);
        }
        var report = new BenchReport();
        report.Ratio("shadow_throughput_vs_live_only", Median(shadowed), 0.5);
        report.Ratio("candidate_alone_vs_live_only", Median(alone), 1);
        return report.Print(Console.Out);
    }

    private static double Measure(IImageClassifier classifier, DecodedImage[] pool, int count)
    {
        var batcher = new DynamicBatcher(classifier, new DynamicBatcherOptions { MaxBatchSize = 16, MaxQueueDelay = TimeSpan.FromMilliseconds(5) });
        var watch = Stopwatch.StartNew();
        var tasks = new Task[count];
        for (int i = 0; i < count; i++) tasks[i] = batcher.ClassifyAsync(pool[i % pool.Length]);
        Task.WaitAll(tasks);
        watch.Stop();
        batcher.DisposeAsync().AsTask().Wait();
        return count / watch.Elapsed.TotalSeconds;
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
}
