using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Moderation.Streams.Inference;
using Moderation.Streams.Text;
using Moderation.Streams.Text.Embeddings;

namespace Moderation.Streams.Cli.Commands.Bench;

/// <summary>
/// <c>bench text</c>: captions of about 200 characters (generated words, a quarter with a planted bank term, a quarter
/// with a link to a subdomain of a bank domain) against generated banks — 10,000 terms, 100,000 domains and 10,000
/// meaning-bank texts by default — on one core. Measured in the same run: the term and domain banks
/// (<see cref="TextMatcher.Match"/>: normaliser, multi-pattern search, link finder, domain lookups) against a naive loop
/// that calls <c>IndexOf</c> once per term and per domain (the baseline; every planted term and domain must be found by
/// both, or the run fails), and the meaning banks: the sentence model (embedding through the batcher, one ONNX thread;
/// the int8 model the worker runs against the package's float32 one on the same captions)
/// and the index scan (SIMD dot products over the bank's unit vectors) against a scalar loop over the same vectors.
/// </summary>
internal static class TextBench
{
    public static Command Create()
    {
        var terms = new Option<int>("--terms") { Description = "Terms in the term bank", DefaultValueFactory = _ => 10_000 };
        var domains = new Option<int>("--domains") { Description = "Domains in the domain bank", DefaultValueFactory = _ => 100_000 };
        var texts = new Option<int>("--texts") { Description = "Texts in the meaning bank (0 = no meaning bank)", DefaultValueFactory = _ => 10_000 };
        var captions = new Option<int>("--captions") { Description = "Captions to screen", DefaultValueFactory = _ => 1_000 };
        var command = new Command("text", "Captions/s per core against 10,000 terms, 100,000 domains and 10,000 meaning-bank texts; " +
            "term and domain banks vs a per-term IndexOf loop, the meaning index vs a scalar scan.")
        {
            terms, domains, texts, captions,
        };
        command.SetAction(async (parse, ct) =>
        {
            int t = parse.GetValue(terms), d = parse.GetValue(domains), x = parse.GetValue(texts), c = parse.GetValue(captions);
            if (t < 1 || d < 1 || x < 0 || c < 1 || t > 1_000_000 || d > 1_000_000 || x > 1_000_000 || c > 1_000_000)
            {
                Console.Error.WriteLine("moderation bench text: --terms, --domains and --captions must be 1 to 1,000,000, --texts 0 to 1,000,000");
                return ExitCodes.Usage;
            }
            return await RunAsync(t, d, x, c, Console.Out, ct);
        });
        return command;
    }

    private static async Task<int> RunAsync(int termCount, int domainCount, int textCount, int captionCount, TextWriter output, CancellationToken ct)
    {
        var random = new Random(20261206);
        var corpus = TextCorpus.Generate(termCount, domainCount, captionCount, random);
        var (termList, domainList, captions, plantedTerms, plantedDomains) = (corpus.Terms, corpus.Domains, corpus.Captions, corpus.PlantedTerms, corpus.PlantedDomains);

        var termBank = TermBank.Load("bench-terms", new StringReader(corpus.TermsCsv));
        var domainBank = DomainBank.Load("bench-domains", new StringReader(corpus.DomainsCsv));
        var matcher = new TextMatcher([termBank], [domainBank]);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"text: {termCount:N0} terms, {domainCount:N0} domains, {textCount:N0} meaning-bank texts; {captionCount:N0} captions of 200 characters ({captionCount / 4:N0} with a planted term, {(captionCount + 1) / 4:N0} with a link); {Environment.ProcessorCount} cores, one used"));

        // Term and domain banks: every planted entry must be found.
        matcher.Match(captions[0]);
        var sw = Stopwatch.StartNew();
        var found = new IReadOnlyList<TextMatch>[captionCount];
        for (int i = 0; i < captionCount; i++) found[i] = matcher.Match(captions[i]);
        double bankRate = captionCount / sw.Elapsed.TotalSeconds;
        for (int i = 0; i < captionCount; i++)
        {
            if (plantedTerms[i] is { } term && !found[i].Any(m => m.Kind == TextMatchKinds.Term && termList[int.Parse(m.Id.AsSpan(1), CultureInfo.InvariantCulture)] == term))
                throw new InvalidOperationException($"the term bank missed the planted term '{term}' in caption {i}");
            if (plantedDomains[i] is { } domain && !found[i].Any(m => m.Kind == TextMatchKinds.Domain && domainList[int.Parse(m.Id.AsSpan(1), CultureInfo.InvariantCulture)] == domain))
                throw new InvalidOperationException($"the domain bank missed the planted domain '{domain}' in caption {i}");
        }

        NaiveMatches(captions[0], termList, domainList);
        // Baseline: IndexOf once per term and per domain (whole words; a domain after "." or "/"), on a share of the captions.
        int naiveCount = Math.Min(captionCount, Math.Max(20, 20_000_000 / (termCount + domainCount)));
        sw.Restart();
        for (int i = 0; i < naiveCount; i++)
        {
            var hits = NaiveMatches(captions[i], termList, domainList);
            if (plantedTerms[i] is { } term && !hits.Contains(term)) throw new InvalidOperationException($"the IndexOf loop missed '{term}' in caption {i}");
            if (plantedDomains[i] is { } domain && !hits.Contains(domain)) throw new InvalidOperationException($"the IndexOf loop missed '{domain}' in caption {i}");
        }
        double naiveRate = naiveCount / sw.Elapsed.TotalSeconds;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"terms+domains: {bankRate:N0} captions/s (normaliser, multi-pattern search, links); IndexOf per term and domain: {naiveRate:N1} captions/s ({naiveCount:N0} captions); every planted entry found by both"));

        var report = new BenchReport();
        report.Ratio("text_banks_vs_indexof_loop", bankRate / naiveRate, 10);
        if (textCount > 0)
        {
            using var model = SentenceEmbedder.Load(threads: 1);
            await using var embedder = new BatchedTextEmbedder(model, new DynamicBatcherOptions { MaxBatchSize = 32, MaxQueueDelay = TimeSpan.FromMilliseconds(2), MaxQueued = 4096 }, ownsEmbedder: false);
            var bankTexts = TextCorpus.MeaningTexts(textCount, random);
            sw.Restart();
            var meaningBank = await MeaningBank.BuildAsync("bench-texts", MeaningBank.Parse("bench-texts", new StringReader(TextCorpus.MeaningCsv(bankTexts))),
                MeaningBank.DefaultThreshold, embedder, ct: ct);
            double loadSeconds = sw.Elapsed.TotalSeconds;

            // The model: every caption submitted at once, so the batcher runs full batches.
            sw.Restart();
            var vectors = await Task.WhenAll(captions.Select(caption => embedder.EmbedAsync(caption, ct)));
            double embedRate = captionCount / sw.Elapsed.TotalSeconds;

            // The same captions through the package's float32 model (the baseline of the int8 one the worker runs).
            double fp32Rate;
            using (var fp32 = SentenceEmbedder.Load(threads: 1, precision: SentencePrecision.Fp32))
            {
                await using var fp32Embedder = new BatchedTextEmbedder(fp32, new DynamicBatcherOptions { MaxBatchSize = 32, MaxQueueDelay = TimeSpan.FromMilliseconds(2), MaxQueued = 4096 }, ownsEmbedder: false);
                await fp32Embedder.EmbedAsync(captions[0], ct);
                sw.Restart();
                await Task.WhenAll(captions.Select(caption => fp32Embedder.EmbedAsync(caption, ct)));
                fp32Rate = captionCount / sw.Elapsed.TotalSeconds;
            }

            // The index: SIMD scan vs a scalar loop over the same vectors; both must pick the same best entry.
            var flat = meaningBank.Vectors().Select(v => v.Value).ToArray();
            int scans = Math.Min(captionCount, Math.Max(20, 50_000_000 / (textCount * SentenceEmbedder.Dimensions)));
            for (int warm = 0; warm < 3; warm++) // past tiered compilation, each path
            {
                BestIndex(flat, vectors[0], simd: true);
                BestIndex(flat, vectors[0], simd: false);
                meaningBank.Best(vectors[0]);
            }
            sw.Restart();
            var simdBest = new int[scans];
            for (int i = 0; i < scans; i++) simdBest[i] = BestIndex(flat, vectors[i], simd: true);
            double simdRate = scans / sw.Elapsed.TotalSeconds;
            sw.Restart();
            for (int i = 0; i < scans; i++)
                if (BestIndex(flat, vectors[i], simd: false) != simdBest[i]) throw new InvalidOperationException($"the scans disagree on caption {i}");
            double scalarRate = scans / sw.Elapsed.TotalSeconds;
            sw.Restart();
            for (int i = 0; i < scans; i++) meaningBank.Best(vectors[i]);
            double bankScanRate = scans / sw.Elapsed.TotalSeconds;

            double meaningRate = 1 / (1 / embedRate + 1 / bankScanRate);
            double allRate = 1 / (1 / bankRate + 1 / meaningRate);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"meaning: bank of {textCount:N0} texts embedded in {loadSeconds:0.0} s; sentence model {embedRate:N1} captions/s ({model.Name}, {embedder.Batches:N0} batches; float32 {fp32Rate:N1}); index scan {bankScanRate:N0} captions/s (SIMD {simdRate:N0}, scalar {scalarRate:N0})"));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"all three banks: {allRate:N1} captions/s per core (terms+domains {bankRate:N0}, meaning {meaningRate:N1})"));
            report.Ratio("meaning_index_simd_vs_scalar_scan", simdRate / scalarRate, 2);
            report.Ratio("sentence_model_int8_vs_fp32", embedRate / fp32Rate, 1.5);
        }
        return report.Print(output);
    }

    private static HashSet<string> NaiveMatches(string caption, string[] terms, string[] domains)
    {
        var hits = new HashSet<string>(StringComparer.Ordinal);
        foreach (var term in terms)
            for (int at = caption.IndexOf(term, StringComparison.OrdinalIgnoreCase); at >= 0; at = caption.IndexOf(term, at + 1, StringComparison.OrdinalIgnoreCase))
                if ((at == 0 || !char.IsLetterOrDigit(caption[at - 1])) && (at + term.Length == caption.Length || !char.IsLetterOrDigit(caption[at + term.Length])))
                {
                    hits.Add(term);
                    break;
                }
        foreach (var domain in domains)
            for (int at = caption.IndexOf(domain, StringComparison.OrdinalIgnoreCase); at >= 0; at = caption.IndexOf(domain, at + 1, StringComparison.OrdinalIgnoreCase))
                if ((at == 0 || caption[at - 1] is '.' or '/' or ' ') && (at + domain.Length == caption.Length || caption[at + domain.Length] is '/' or ' ' or ':'))
                {
                    hits.Add(domain);
                    break;
                }
        return hits;
    }

    private static int BestIndex(float[][] vectors, float[] query, bool simd)
    {
        int best = -1;
        float bestSimilarity = float.NegativeInfinity;
        for (int i = 0; i < vectors.Length; i++)
        {
            float similarity;
            if (simd)
            {
                similarity = VectorMath.Dot(vectors[i], query);
            }
            else
            {
                similarity = 0;
                var v = vectors[i];
                for (int k = 0; k < v.Length; k++) similarity += v[k] * query[k];
            }
            if (similarity > bestSimilarity)
            {
                bestSimilarity = similarity;
                best = i;
            }
        }
        return best;
    }
}

/// <summary>The generated banks and captions of <c>bench text</c> and <c>bench captions</c>: made-up words (so that no
/// planted entry is found by accident), about 200-character captions of common words, a quarter of them with a planted
/// bank term, a quarter with a link to a bank domain.</summary>
internal sealed record TextCorpus(string[] Terms, string[] Domains, string[] Captions, string?[] PlantedTerms, string?[] PlantedDomains)
{
    private static readonly string[] Syllables =
        ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po", "qua", "bel", "dor", "fin", "gar", "hul", "jex", "kim", "lur", "mox", "nap", "orb", "pex", "ryn", "sul", "tav", "ulm", "vex", "wyn", "zor"];

    private static readonly string[] Common =
        ["the", "my", "new", "video", "today", "with", "friends", "love", "this", "day", "best", "summer", "check", "out", "so", "much", "fun", "at", "beach", "look", "what", "we", "made", "for", "you", "and", "our", "trip", "to", "city"];

    internal static string Word(Random random, int syllables)
    {
        var word = new StringBuilder();
        for (int i = 0; i < syllables; i++) word.Append(Syllables[random.Next(Syllables.Length)]);
        return word.ToString();
    }

    public static TextCorpus Generate(int termCount, int domainCount, int captionCount, Random random)
    {
        var termSet = new HashSet<string>(StringComparer.Ordinal);
        while (termSet.Count < termCount) termSet.Add(random.Next(3) == 0 ? $"{Word(random, 2)} {Word(random, 2)}" : Word(random, 3 + random.Next(2)));
        var termList = termSet.ToArray();
        var domainSet = new HashSet<string>(StringComparer.Ordinal);
        while (domainSet.Count < domainCount) domainSet.Add($"{Word(random, 2 + random.Next(3))}.{(random.Next(2) == 0 ? "com" : "example")}");
        var domainList = domainSet.ToArray();

        var captions = new string[captionCount];
        var plantedTerms = new string?[captionCount];
        var plantedDomains = new string?[captionCount];
        for (int i = 0; i < captionCount; i++)
        {
            var caption = new StringBuilder();
            if (i % 4 == 1) caption.Append(plantedTerms[i] = termList[random.Next(termList.Length)]).Append(' ');
            if (i % 4 == 2) caption.Append("https://www.").Append(plantedDomains[i] = domainList[random.Next(domainList.Length)]).Append("/p ");
            while (caption.Length < 200) caption.Append(Common[random.Next(Common.Length)]).Append(' ');
            captions[i] = caption.ToString(0, 200);
        }
        return new TextCorpus(termList, domainList, captions, plantedTerms, plantedDomains);
    }

    /// <summary>Meaning-bank texts: short sentences of common and made-up words, each numbered so that all differ.</summary>
    public static string[] MeaningTexts(int count, Random random) => Enumerable.Range(0, count).Select(i =>
        $"{Common[random.Next(Common.Length)]} {Word(random, 2)} {Common[random.Next(Common.Length)]} {Word(random, 3)} {Common[random.Next(Common.Length)]} {Word(random, 2)} number {i}").ToArray();

    /// <summary>The banks as the CSV files <c>bank import</c> takes (<c>pattern,category,id</c>; <c>domain,category,id</c>;
    /// <c>text,category,id</c>).</summary>
    public string TermsCsv => string.Join('\n', Terms.Select((w, i) => $"{w},spam,t{i}"));

    public string DomainsCsv => string.Join('\n', Domains.Select((w, i) => $"{w},phishing,d{i}"));

    public static string MeaningCsv(string[] texts) => string.Join('\n', texts.Select((b, i) => $"{b},spam,m{i}"));
}
