using System.CommandLine;
using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Embedded;
using Moderation.Streams.Kafka;
using Moderation.Streams.Media;
using Moderation.Streams.Worker;
using Moderation.Streams.Worker.Logging;

namespace Moderation.Streams.Cli.Commands.Bench;

/// <summary>
/// What poison inputs cost: the same number of uploads screened end to end (embedded broker, Garnet, the
/// model) once clean and once with a share of hostile or broken ones; prints both throughputs and their ratio.
/// </summary>
internal static class PoisonBench
{
    public static Command Create()
    {
        var uploads = new Option<int>("--uploads")
        {
            Description = "Uploads per run", DefaultValueFactory = _ => 3000,
            Validators = { r => { if (r.GetValueOrDefault<int>() is < 1 or > 1_000_000) r.AddError("--uploads must be 1 to 1,000,000"); } },
        };
        var percent = new Option<double>("--poison-percent")
        {
            Description = "Share of poison inputs in the second run, in percent", DefaultValueFactory = _ => 1.0,
            Validators = { r => { if (r.GetValueOrDefault<double>() is not (> 0 and <= 100)) r.AddError("--poison-percent must be in (0, 100]"); } },
        };
        var command = new Command("poison", "End-to-end throughput with poison inputs vs a clean run of the same size (goal: >= 0.95).") { uploads, percent };
        command.SetAction(async (parse, ct) =>
        {
            int n = parse.GetValue(uploads);
            double share = parse.GetValue(percent);
            var report = new BenchReport();
            TimeSpan clean, poisoned;
            try
            {
                clean = await RunAsync(n, 0, ct);
                Console.WriteLine($"clean:  {n} uploads in {clean.TotalSeconds:0.00} s = {n / clean.TotalSeconds:0.0} uploads/s");
                poisoned = await RunAsync(n, share, ct);
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or KafkaException or IOException)
            {
                Console.Error.WriteLine($"moderation bench poison: {e.Message}");
                return ExitCodes.Failure;
            }
            Console.WriteLine($"poison: {n} uploads ({share}% poison) in {poisoned.TotalSeconds:0.00} s = {n / poisoned.TotalSeconds:0.0} uploads/s");
            report.Ratio("poison_vs_clean_throughput", clean.TotalSeconds / poisoned.TotalSeconds, 0.95);
            return report.Print(Console.Out);
        });
        return command;
    }

    /// <summary>Time from the first upload published to the last outcome read.</summary>
    private static async Task<TimeSpan> RunAsync(int count, double poisonPercent, CancellationToken ct)
    {
        var root = Directory.CreateTempSubdirectory("moderation-poison-");
        try
        {
            using var broker = EmbeddedKafkaBroker.Start(new EmbeddedBrokerOptions { Partitions = 8 });
            await using var redis = EmbeddedRedisServer.Start();
            var urls = Enumerable.Range(0, 200).Select(i =>
            {
                var path = Path.Combine(root.FullName, $"img-{i}.jpg");
                File.WriteAllBytes(path, SampleImages.Jpeg(20_000 + i, 320, 240));
                return new Uri(path).AbsoluteUri;
            }).ToList();
            var truncated = SampleImages.Jpeg(5, 640, 480);
            File.WriteAllBytes(Path.Combine(root.FullName, "truncated.jpg"), truncated[..(truncated.Length / 2)]);
            string Event(string id, string url) => UploadEventParser.SerializeToString(new UploadEvent { ContentId = id, MediaType = MediaTypes.Image, Media = new MediaRef { Url = url } });
            string[] poison =
            [
                "{\"content_id\":",                                                   // not JSON
                Event("{0}", "file:///etc/shadow"),                                   // outside the media root
                Event("{0}", "https://169.254.169.254/latest/meta-data/"),            // metadata address
                Event("{0}", new Uri(Path.Combine(root.FullName, "truncated.jpg")).AbsoluteUri),
                Event("{0}", new Uri(Path.Combine(root.FullName, "missing.jpg")).AbsoluteUri),
            ];
            int every = poisonPercent > 0 ? (int)Math.Max(1, Math.Round(100 / poisonPercent)) : int.MaxValue;

            using var host = WorkerHost.Build(new Dictionary<string, string?>
            {
                ["Kafka:BootstrapServers"] = broker.BootstrapServers,
                ["Kafka:GroupId"] = "bench",
                ["Kafka:SessionTimeoutMs"] = "6000",
                ["Redis:Configuration"] = redis.Configuration,
                ["Media:Root"] = root.FullName,
            }, logging => logging.AddFilter((_, level) => level >= LogLevel.Error).AddSafeConsole());
            await host.StartAsync(ct);
            await host.Services.GetRequiredService<ScreeningService>().Ready.WaitAsync(TimeSpan.FromSeconds(60), ct);

            using var reader = new ConsumerBuilder<byte[]?, byte[]>(new ConsumerConfig { BootstrapServers = broker.BootstrapServers, GroupId = "bench-reader" }).Build();
            reader.AssignOutcomes(8);
            var watch = Stopwatch.StartNew();
            using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = broker.BootstrapServers, LingerMs = 5 }).Build())
            {
                for (int i = 0; i < count; i++)
                {
                    var id = $"u-{i:D6}";
                    var value = i % every == every - 1 ? poison[i / every % poison.Length].Replace("{0}", id) : Event(id, urls[i % urls.Count]);
                    producer.Produce(Topics.Uploads, new Message<string, string> { Key = id, Value = value });
                }
                producer.Flush(TimeSpan.FromSeconds(60));
            }
            int seen = 0;
            var deadline = DateTime.UtcNow.AddMinutes(10);
            while (seen < count && DateTime.UtcNow < deadline && !ct.IsCancellationRequested)
                if (reader.Consume(TimeSpan.FromMilliseconds(100))?.Message is not null) seen++;
            watch.Stop();
            await host.StopAsync(CancellationToken.None);
            if (seen < count) throw new InvalidOperationException($"only {seen} of {count} outcomes arrived");
            return watch.Elapsed;
        }
        finally
        {
            try { root.Delete(true); } catch (IOException) { }
        }
    }
}
