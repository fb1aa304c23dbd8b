using System.CommandLine;
using System.Diagnostics;
using Moderation.Streams.Inference;
using Moderation.Streams.Redis.TextBanks;
using StackExchange.Redis;

namespace Moderation.Streams.Cli.Commands.Bench;

/// <summary>
/// <c>bench captions</c>: what screening captions costs the image pipeline. One worker process on the embedded broker
/// and a real Redis screens distinct photo-like JPEGs (every one through the model) with and without a 200-character
/// caption, the two arms interleaved round by round (ABBA) on fresh pictures each time: first with a term bank and a
/// domain bank (10,000 terms and 100,000 domains by default, imported as <c>bank import</c> would), then, when
/// <c>--texts</c> is above 0, with a meaning bank as well (the worker embeds every caption with the sentence model).
/// Every picture has a caption of its own; a quarter of them carry a bank term and a quarter a link to a bank domain:
/// the run fails unless every one of those uploads gets a text reason and no upload without a caption does.
/// </summary>
internal static class CaptionsBench
{
    public static Command Create()
    {
        var uploads = new Option<int>("--uploads") { Description = "Distinct pictures per measured phase", DefaultValueFactory = _ => 200 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds of (without, with) captions per bank set, alternating which goes first; the RATIO is the median of the rounds' ratios (odd counts give a true median)", DefaultValueFactory = _ => 5 };
        var terms = new Option<int>("--terms") { Description = "Terms in the term bank", DefaultValueFactory = _ => 10_000 };
        var domains = new Option<int>("--domains") { Description = "Domains in the domain bank", DefaultValueFactory = _ => 100_000 };
        var texts = new Option<int>("--texts") { Description = "Texts in the meaning bank (0 = no meaning-bank phase)", DefaultValueFactory = _ => 10_000 };
        var redis = new Option<string?>("--redis") { Description = "HOST:PORT of a Redis to use (default: start redis-server from PATH; the bench refuses without one)" };
        var model = new Option<string>("--model") { Description = "Model of the worker", DefaultValueFactory = _ => ModelRegistry.DefaultModelName };
        var timeout = new Option<int>("--timeout") { Description = "Seconds before a phase (or the meaning bank's load) gives up", DefaultValueFactory = _ => 600 };
        var set = new Option<string[]>("--set") { Description = "Worker setting KEY=VALUE (configuration key); repeatable", AllowMultipleArgumentsPerToken = false };
        var command = new Command("captions", "Image uploads with 200-character captions vs without, through a worker with term, domain and meaning banks " +
            "(RATIO e2e_with_captions_vs_without; the term and domain banks alone: RATIO e2e_with_term_domain_captions_vs_without).")
        {
            uploads, rounds, terms, domains, texts, redis, model, timeout, set,
        };
        command.SetAction(async (parse, ct) =>
        {
            if (E2eBench.WorkerSettings("captions", parse.GetValue(set)) is not { } settings) return ExitCodes.Usage;
            var s = new Settings(parse.GetValue(uploads), parse.GetValue(rounds), parse.GetValue(terms), parse.GetValue(domains), parse.GetValue(texts),
                parse.GetValue(redis), parse.GetValue(model)!, TimeSpan.FromSeconds(parse.GetValue(timeout)), settings);
            if (s.Uploads is < 4 or > 100_000 || s.Rounds is < 1 or > 100 || s.Terms is < 1 or > 1_000_000 || s.Domains is < 1 or > 1_000_000
                || s.Texts is < 0 or > 1_000_000 || s.Timeout <= TimeSpan.Zero)
            {
                Console.Error.WriteLine("moderation bench captions: --uploads 4-100000, --rounds 1-100, --terms and --domains 1-1000000, --texts 0-1000000, --timeout positive");
                return ExitCodes.Usage;
            }
            return await PipelineUnderTest.RunGuardedAsync("captions", s.Model, s.Redis, () => RunAsync(s, ct));
        });
        return command;
    }

    private sealed record Settings(int Uploads, int Rounds, int Terms, int Domains, int Texts, string? Redis, string Model, TimeSpan Timeout,
        IReadOnlyDictionary<string, string> WorkerSettings);

    /// <summary>Both arms of one bank set, summed over the rounds.</summary>
    /// <summary>Both arms of one bank set: pooled over the rounds, and the median of each round's with/without ratio
    /// (what the RATIO line reports: a round's two phases run back to back, so a load spike elsewhere on the machine
    /// moves one round, not the figure).</summary>
    private sealed record Arms(string Name, double Without, double With, double MedianRatio);

    private static async Task<int> RunAsync(Settings s, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        void Say(string text) => Console.WriteLine($"[{clock.Elapsed.TotalSeconds,6:0.0}s] {text}");
        Say($"cores {Environment.ProcessorCount}, load average {E2eBench.LoadAverage()}");

        var random = new Random(20261207);
        int sets = s.Texts > 0 ? 2 : 1;
        const int warm = 8;
        int total = warm + sets * s.Rounds * 2 * s.Uploads;
        // A caption per picture: every upload with a caption has one of its own (nothing is screened twice).
        var corpus = TextCorpus.Generate(s.Terms, s.Domains, total, random);
        int Planted(int from) => Enumerable.Range(from, s.Uploads).Count(i => corpus.PlantedTerms[i] is not null || corpus.PlantedDomains[i] is not null);
        var pictures = new byte[total][];
        Parallel.For(0, total, i => pictures[i] = i % 2 == 0 ? PipelineUnderTest.PhotoJpeg(900_000 + i, 1280, 720) : PipelineUnderTest.PhotoJpeg(900_000 + i, 1080, 1920));
        Say($"{total} distinct JPEGs (q85, half 1280x720, half 1080x1920), each with a caption of its own of 200 characters (half with a planted term or link)");

        await using var system = await PipelineUnderTest.StartAsync(12, s.Redis, ct);
        var urls = pictures.Select((p, i) => system.AddMedia($"c{i:D6}.jpg", p)).ToArray();
        var options = ConfigurationOptions.Parse(system.Redis);
        (options.SyncTimeout, options.AsyncTimeout) = (60_000, 60_000); // a 100,000-domain import is one big write
        using var connection = await ConnectionMultiplexer.ConnectAsync(options);
        var store = new RedisTextBankStore(connection);
        var import = Stopwatch.StartNew();
        await store.ImportAsync("bench-terms", TextBankKinds.Terms, new StringReader(corpus.TermsCsv));
        await store.ImportAsync("bench-domains", TextBankKinds.Domains, new StringReader(corpus.DomainsCsv));
        Say($"redis {system.Redis} ({system.RedisKind}): imported {s.Terms:N0} terms and {s.Domains:N0} domains in {import.Elapsed.TotalSeconds:0.0} s");

        var workerSettings = new Dictionary<string, string>(s.WorkerSettings) { ["Screening:Model"] = s.Model };
        var ready = await system.StartWorkerAsync(workerSettings, TimeSpan.FromSeconds(120), ct);
        Say($"worker: process start -> /readyz 200 in {ready.TotalSeconds:0.00} s" +
            (s.WorkerSettings.Count > 0 ? $" with {string.Join(' ', s.WorkerSettings.Select(kv => $"{kv.Key}={kv.Value}"))}" : ""));
        await system.RunPhaseAsync("warm", urls[..warm], 0, s.Timeout, ct, i => corpus.Captions[i]);

        int next = warm;
        var results = new List<Arms>();
        async Task<Arms> MeasureAsync(string name)
        {
            double withoutUploads = 0, withoutSeconds = 0, withUploads = 0, withSeconds = 0;
            var roundRatios = new List<double>();
            for (int round = 0; round < s.Rounds; round++)
            {
                double roundWith = 0, roundWithout = 0;
                foreach (bool captions in round % 2 == 0 ? [false, true] : (bool[])[true, false])
                {
                    int from = next, planted = Planted(from);
                    next += s.Uploads;
                    var phase = await system.RunPhaseAsync($"{name.Replace('+', '-')}-{round}-{(captions ? "with" : "without")}", urls[from..next], 0, s.Timeout, ct,
                        captions ? i => corpus.Captions[from + i] : null);
                    Say($"{name}, round {round + 1}, {(captions ? "with captions   " : "without captions")}: {phase.PerSecond:0.0} uploads/s ({phase.Elapsed.TotalSeconds:0.00} s; " +
                        $"text reasons {phase.TextMatched} (meaning {phase.MeaningMatched}), cached {phase.Cached}, dlq {phase.Dlq}; load average {E2eBench.LoadAverage()})");
                    if (phase.Dlq > 0 || phase.Cached > 0) throw new InvalidOperationException($"{name}: {phase.Dlq} DLQ records and {phase.Cached} cached decisions among distinct pictures");
                    if (captions && phase.TextMatched < planted)
                        throw new InvalidOperationException($"{name}: only {phase.TextMatched} uploads got a text reason, {planted} captions carry a bank term or link");
                    if (!captions && phase.TextMatched > 0) throw new InvalidOperationException($"{name}: {phase.TextMatched} uploads without a caption got a text reason");
                    if (captions) (withUploads, withSeconds, roundWith) = (withUploads + phase.Uploads, withSeconds + phase.Elapsed.TotalSeconds, phase.PerSecond);
                    else (withoutUploads, withoutSeconds, roundWithout) = (withoutUploads + phase.Uploads, withoutSeconds + phase.Elapsed.TotalSeconds, phase.PerSecond);
                }
                roundRatios.Add(roundWith / roundWithout);
            }
            var arms = new Arms(name, withoutUploads / withoutSeconds, withUploads / withSeconds, BenchReport.Percentile([.. roundRatios], 0.5));
            Say($"{name}: without captions {arms.Without:0.0} uploads/s, with captions {arms.With:0.0} uploads/s over {s.Rounds} round(s); " +
                $"with/without per round {string.Join(' ', roundRatios.Select(r => r.ToString("0.000", System.Globalization.CultureInfo.InvariantCulture)))}, median {arms.MedianRatio:0.000}");
            return arms;
        }

        results.Add(await MeasureAsync("terms+domains"));
        if (s.Texts > 0)
        {
            var bankTexts = TextCorpus.MeaningTexts(s.Texts, random);
            await store.ImportAsync("bench-texts", TextBankKinds.Texts, new StringReader(TextCorpus.MeaningCsv(bankTexts)));
            var loading = Stopwatch.StartNew();
            // The worker embeds the bank's texts when it sees the new version; a caption that is a bank text tells when it can match.
            for (int probe = 0; ; probe++)
            {
                var check = await system.RunPhaseAsync($"probe-{probe}", [urls[probe % warm]], 0, s.Timeout, ct, _ => bankTexts[0]);
                if (check.MeaningMatched == 1) break; // a meaning match, not a term that happens to be in the text
                if (loading.Elapsed > s.Timeout) throw new TimeoutException($"the worker did not load the meaning bank of {s.Texts:N0} texts within {s.Timeout.TotalSeconds:0} s");
                await Task.Delay(TimeSpan.FromSeconds(1), ct); // waiting for the worker to embed the bank, not for correctness
            }
            Say($"meaning bank of {s.Texts:N0} texts imported and embedded by the worker in {loading.Elapsed.TotalSeconds:0.0} s (load average {E2eBench.LoadAverage()})");
            results.Add(await MeasureAsync("terms+domains+meaning"));
        }
        var exits = await system.StopWorkersAsync(ct);
        Say($"worker exited {string.Join('/', exits)}; load average {E2eBench.LoadAverage()}");

        var report = new BenchReport();
        report.Ratio("e2e_with_captions_vs_without", results[^1].MedianRatio, 0.95);
        if (results.Count > 1) report.Ratio("e2e_with_term_domain_captions_vs_without", results[0].MedianRatio, 0.95);
        Console.WriteLine("captions: " + string.Join(' ', results.Select(r => $"{r.Name.Replace('+', '_')}_without={r.Without:0.0} {r.Name.Replace('+', '_')}_with={r.With:0.0}")));
        if (exits.Any(e => e != 0)) return ExitCodes.Failure;
        return report.Print(Console.Out);
    }
}
