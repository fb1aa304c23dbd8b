using System.CommandLine;
using System.Text;
using Confluent.Kafka;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media;

namespace Moderation.Streams.Cli.Commands;

internal static class ProduceCommand
{
    private static readonly string[] ImageExtensions = [".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"];

    public static Command Create()
    {
        var kafka = CommonOptions.Kafka();
        var dir = new Argument<DirectoryInfo>("DIR") { Description = "Folder of images (searched recursively)" };
        var topic = new Option<string?>("--topic") { Description = "Topic to publish to (config Kafka:UploadsTopic, default uploads)" };
        var count = new Option<int?>("--count") { Description = "Number of uploads (cycles through the images); default one per image" };
        var inline = new Option<bool>("--inline") { Description = "Embed the media as base64 data instead of a file: URL" };
        var prefix = new Option<string>("--prefix") { Description = "content_id prefix", DefaultValueFactory = _ => "c" };
        var maxBytes = CommonOptions.MaxBytes();
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for the broker to acknowledge every upload", DefaultValueFactory = _ => 30 };

        var command = new Command("produce", "Publishes one UploadEvent per image of a folder (load generation, backfills from storage). " +
            "Configuration as the worker's: appsettings.json, environment (Kafka__BootstrapServers, …), Kafka:Security with its secret files; flags override.")
        {
            dir, kafka, topic, count, inline, prefix, maxBytes, timeout,
        };
        command.SetAction(async (parse, ct) =>
        {
            var folder = parse.GetValue(dir)!;
            if (!folder.Exists)
            {
                Console.Error.WriteLine($"moderation produce: no such folder: {folder.FullName}");
                return ExitCodes.Usage;
            }
            var files = folder.EnumerateFiles("*", SearchOption.AllDirectories)
                .Where(f => ImageExtensions.Contains(f.Extension, StringComparer.OrdinalIgnoreCase))
                .OrderBy(f => f.FullName, StringComparer.Ordinal).ToList();
            if (files.Count == 0)
            {
                Console.Error.WriteLine($"moderation produce: no images in {folder.FullName}");
                return ExitCodes.Failure;
            }
            if (!UploadEventParser.IsValidId(parse.GetValue(prefix) + "-0"))
            {
                Console.Error.WriteLine("moderation produce: --prefix must be characters of [A-Za-z0-9._:-]");
                return ExitCodes.Usage;
            }
            if (parse.GetValue(timeout) is < 1 or > 3600)
            {
                Console.Error.WriteLine("moderation produce: --timeout must be 1 to 3600 seconds");
                return ExitCodes.Usage;
            }
            var ackTimeout = TimeSpan.FromSeconds(parse.GetValue(timeout));
            int total = parse.GetValue(count) ?? files.Count;
            // The worker's configuration: appsettings.json, environment, then the flags; SASL and TLS from Kafka:Security.
            var overrides = new Dictionary<string, string?>();
            if (parse.GetValue(kafka) is { Length: > 0 } servers) overrides["Kafka:BootstrapServers"] = servers;
            if (parse.GetValue(topic) is { Length: > 0 } topicFlag) overrides["Kafka:UploadsTopic"] = topicFlag;
            Dictionary<string, string> properties;
            Kafka.KafkaOptions settings;
            try
            {
                settings = Worker.ScreeningSettings.Load(overrides).Kafka;
                properties = Kafka.KafkaSecurity.Properties(settings);
            }
            catch (Exception e) when (e is Microsoft.Extensions.Options.OptionsValidationException or InvalidOperationException)
            {
                Console.Error.WriteLine($"moderation produce: invalid configuration: {e.Message}");
                return ExitCodes.Usage;
            }
            var topicName = settings.UploadsTopic;
            var config = new ProducerConfig(properties)
            {
                BootstrapServers = settings.BootstrapServers,
                EnableIdempotence = true,
                Acks = Acks.All,
                LingerMs = 5,
                // A report for every upload within the wait: undelivered ones fail instead of staying queued.
                MessageTimeoutMs = (int)ackTimeout.TotalMilliseconds,
            };
            using var producer = new ProducerBuilder<string, byte[]>(config)
                .SetLogHandler((_, _) => { }) // the broker's unreachability is reported once, below, not per connection attempt
                .Build();
            long failed = 0, unread = 0, acknowledged = 0;
            string? firstError = null;
            for (int i = 0; i < total && !ct.IsCancellationRequested; i++)
            {
                var file = files[i % files.Count];
                MediaRef media;
                if (parse.GetValue(inline))
                {
                    // Only regular files, capped: a FIFO or a link to /dev/zero in the folder is reported, not read.
                    try
                    {
                        media = new MediaRef { Data = ImageDecoder.ReadFile(file.FullName, parse.GetValue(maxBytes)) };
                    }
                    catch (Exception e) when (e is ModerationException or IOException or UnauthorizedAccessException)
                    {
                        Console.Error.WriteLine($"moderation produce: {file.FullName}: {(e as ModerationException)?.Code ?? ErrorCodes.MediaUnavailable}: {e.Message}");
                        unread++;
                        continue;
                    }
                }
                else
                {
                    media = new MediaRef { Url = new Uri(file.FullName).AbsoluteUri };
                }
                var upload = new UploadEvent
                {
                    ContentId = $"{parse.GetValue(prefix)}-{i:D6}",
                    MediaType = MediaTypes.Image,
                    Media = media,
                    CreatedAt = DateTimeOffset.UtcNow,
                };
                producer.Produce(topicName, new Message<string, byte[]> { Key = upload.ContentId, Value = UploadEventParser.Serialize(upload) },
                    report =>
                    {
                        if (!report.Error.IsError) Interlocked.Increment(ref acknowledged);
                        else if (Interlocked.Increment(ref failed) == 1) firstError = report.Error.Reason;
                    });
            }
            // Flush returns what is still queued: uploads the broker never acknowledged were not produced.
            int queued = producer.Flush(ackTimeout + TimeSpan.FromSeconds(5));
            long sent = Interlocked.Read(ref acknowledged);
            if (sent < total - unread)
            {
                Console.Error.WriteLine($"moderation produce: {total - unread - sent} of {total - unread} uploads were not acknowledged by {config.BootstrapServers}"
                    + (firstError is not null ? $" ({firstError})" : queued > 0 ? $" ({queued} still queued after {parse.GetValue(timeout)} s)" : ""));
                Console.WriteLine($"produced {sent} uploads to {topicName}");
                return ExitCodes.Failure;
            }
            Console.WriteLine($"produced {sent} uploads to {topicName}");
            return unread > 0 ? ExitCodes.Failure : ExitCodes.Ok;
        });
        return command;
    }
}
