using System.CommandLine;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media;
using Moderation.Streams.Review;

namespace Moderation.Streams.Cli.Commands;

internal static class ReviewExportCommand
{
    public static Command Create()
    {
        var kafka = CommonOptions.Kafka();
        var output = new Option<string>("--out") { Description = "Folder of the labelled set (labels.csv, media/, texts.csv)", DefaultValueFactory = _ => "review-labels" };
        var mediaRoot = new Option<DirectoryInfo?>("--media-root") { Description = "Directory that file: media URLs may be read from, as the worker's (config Media:Root)" };
        var command = new Command("export-labels", "Writes every reviewer verdict (read back from the decision topics) as a labelled set: " +
            "OUT/labels.csv (path,label: unsafe = taken down, safe = allowed) with the media under OUT/media/, read for 'evaluate --labels OUT/labels.csv'; " +
            "and OUT/texts.csv (text,label) for 'evaluate --texts'. Exit 1 when the broker cannot be read.") { kafka, output, mediaRoot };
        command.SetAction(async (parse, ct) =>
        {
            var config = ReviewConfiguration.Load();
            var kafkaOptions = Microsoft.Extensions.Configuration.ConfigurationBinder.Get<KafkaOptions>(config.GetSection("Kafka")) ?? new KafkaOptions();
            if (parse.GetValue(kafka) is { Length: > 0 } servers) kafkaOptions.BootstrapServers = servers;
            var media = Microsoft.Extensions.Configuration.ConfigurationBinder.Get<MediaOptions>(config.GetSection("Media")) ?? new MediaOptions();
            if (parse.GetValue(mediaRoot) is { } root) media = media with { Root = root.FullName };
            using var reader = new MediaReader(media);
            try
            {
                var summary = await LabelExport.ExportAsync(kafkaOptions, reader, parse.GetValue(output)!, w => Console.Error.WriteLine($"moderation review export-labels: {w}"), ct);
                Console.WriteLine($"verdicts={summary.Verdicts} media={summary.Media} texts={summary.Texts} unavailable={summary.Unavailable} out={Path.GetFullPath(parse.GetValue(output)!)}");
                return ExitCodes.Ok;
            }
            catch (Confluent.Kafka.KafkaException e)
            {
                Console.Error.WriteLine($"moderation review export-labels: cannot read the topics: {e.Error.Reason}");
                return ExitCodes.Failure;
            }
        });
        return command;
    }
}
