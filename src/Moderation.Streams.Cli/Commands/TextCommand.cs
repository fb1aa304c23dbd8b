using System.CommandLine;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Moderation.Streams.Contracts;
using Moderation.Streams.Text;
using Moderation.Streams.Text.Embeddings;

namespace Moderation.Streams.Cli.Commands;

/// <summary>
/// <c>moderation text match [--terms FILE]… [--domains FILE]… [--texts FILE]… [TEXT…]</c>: checks texts against
/// term, domain and meaning bank files, without Redis. One JSON line per text:
/// <c>{"text":…,"matches":[{"kind":"term|domain|text","bank":…,"id":…,"category":…,"start":…,"end":…}]}</c>, with
/// <c>bank</c> the file name without extension and <c>start</c>/<c>end</c> UTF-16 offsets into the original text; a
/// <c>text</c> (meaning) match carries <c>"similarity"</c> instead of the span.
/// Thin on purpose: normalising, finding links and matching are <see cref="TextMatcher"/>, tested in Text.Tests.
/// </summary>
internal static class TextCommand
{
    /// <summary>A bank file larger than this is refused unread.</summary>
    public const long MaxBankFileBytes = 64L * 1024 * 1024;

    /// <summary>A standard-input line longer than this (in UTF-16 characters) is reported and skipped.</summary>
    public const int MaxTextChars = 1024 * 1024;

    private const string Verb = "moderation text match";

    public static Command Create()
    {
        var command = new Command("text", "Text signals: check captions and text items against term, domain and meaning banks.");
        command.Subcommands.Add(Match());
        return command;
    }

    private static Command Match()
    {
        var terms = new Option<string[]>("--terms")
        {
            Description = "A terms bank file (repeatable): CSV pattern,category[,id[,mode]], mode word (default), substring or regex",
        };
        var domains = new Option<string[]>("--domains")
        {
            Description = "A domains bank file (repeatable): CSV domain,category[,id]; matches the domain and every subdomain",
        };
        var meaning = new Option<string[]>("--texts")
        {
            Description = "A texts bank file (repeatable): CSV text,category[,id], matched by meaning (all-MiniLM-L6-v2 sentence embeddings, cosine similarity)",
        };
        var threshold = new Option<float>("--texts-threshold")
        {
            Description = $"The least cosine similarity a --texts bank matches at, above 0 and at most 1 (default {MeaningBank.DefaultThreshold})",
            DefaultValueFactory = _ => MeaningBank.DefaultThreshold,
        };
        var texts = new Argument<string[]>("text")
        {
            Description = "Texts to check; without any, one text per line of standard input",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var command = new Command("match",
            "Check texts (arguments, else one per standard-input line) against bank files; prints one JSON line per text: " +
            "{\"text\",\"matches\":[{\"kind\",\"bank\",\"id\",\"category\",\"start\",\"end\"}]} (bank = file name without " +
            "extension; start/end = UTF-16 offsets into the text; a meaning match has \"similarity\" instead). Exit 0 ok, 1 failure " +
            "(a bank file, the sentence model or a text), 2 bad usage.")
        {
            terms, domains, meaning, threshold, texts,
        };
        command.SetAction(async (parse, ct) =>
        {
            var termFiles = parse.GetValue(terms) ?? [];
            var domainFiles = parse.GetValue(domains) ?? [];
            var meaningFiles = parse.GetValue(meaning) ?? [];
            float minSimilarity = parse.GetValue(threshold);
            if (termFiles.Length == 0 && domainFiles.Length == 0 && meaningFiles.Length == 0)
            {
                Console.Error.WriteLine($"{Verb}: give at least one --terms, --domains or --texts file");
                return ExitCodes.Usage;
            }
            if (MeaningBank.ThresholdRefusal(minSimilarity) is { } badThreshold)
            {
                Console.Error.WriteLine($"{Verb}: --texts-threshold: {badThreshold}");
                return ExitCodes.Usage;
            }
            foreach (var path in termFiles.Concat(domainFiles).Concat(meaningFiles))
            {
                if (BankNameRefusal(path) is { } why)
                {
                    Console.Error.WriteLine($"{Verb}: {SafeText.Escape(path)}: {why}");
                    return ExitCodes.Usage;
                }
            }

            bool failed = false;
            var termBanks = new List<TermBank>();
            var domainBanks = new List<DomainBank>();
            foreach (var path in termFiles)
                if (Load(path, TermBank.Load) is { } bank) termBanks.Add(bank); else failed = true;
            foreach (var path in domainFiles)
                if (Load(path, DomainBank.Load) is { } bank) domainBanks.Add(bank); else failed = true;
            var meaningRows = new List<(string Name, IReadOnlyList<MeaningEntry> Entries)>();
            foreach (var path in meaningFiles)
                if (Load(path, MeaningBank.Parse) is { } rows) meaningRows.Add((Path.GetFileNameWithoutExtension(path), rows)); else failed = true;
            if (failed) return ExitCodes.Failure; // never match against part of the banks

            await using var embedder = meaningRows.Count > 0 ? LoadEmbedder() : null;
            if (meaningRows.Count > 0 && embedder is null) return ExitCodes.Failure;
            var meaningBanks = new List<MeaningBank>();
            foreach (var (name, rows) in meaningRows)
                meaningBanks.Add(await MeaningBank.BuildAsync(name, rows, minSimilarity, embedder!, ct: ct));

            var matcher = new TextMatcher(termBanks, domainBanks, meaningBanks, embedder);
            using var stdout = Console.OpenStandardOutput();
            var arguments = parse.GetValue(texts) ?? [];
            var inputs = arguments.Length > 0 ? arguments.Select(t => (Text: (string?)t, Error: (string?)null)) : StdinLines();
            // With a meaning bank, texts go to the sentence model in chunks, so the batcher runs them together;
            // output stays in input order.
            int chunk = matcher.HasMeaningBanks ? 32 : 1;
            foreach (var group in inputs.Chunk(chunk))
            {
                ct.ThrowIfCancellationRequested();
                var pending = group.Select(i => i.Text is { } t ? matcher.MatchAsync(t, ct) : null).ToArray();
                for (int i = 0; i < group.Length; i++)
                {
                    var (text, error) = group[i];
                    if (text is null)
                    {
                        Console.Error.WriteLine($"{Verb}: {error}");
                        failed = true;
                        continue;
                    }
                    IReadOnlyList<TextMatch> matches;
                    try
                    {
                        matches = await pending[i]!;
                    }
                    catch (RegexMatchTimeoutException e)
                    {
                        Console.Error.WriteLine($"{Verb}: a regex term timed out ({SafeText.Escape(e.Pattern, 80)}) on a text of {text.Length} characters");
                        failed = true;
                        continue;
                    }
                    WriteLine(stdout, text, matches);
                }
            }
            return failed ? ExitCodes.Failure : ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>The sentence model beside the program, batched; null (reported) when it cannot be loaded.</summary>
    private static BatchedTextEmbedder? LoadEmbedder()
    {
        try
        {
            return new BatchedTextEmbedder(SentenceEmbedder.Load());
        }
        catch (Exception e) when (e is IOException or InvalidDataException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            Console.Error.WriteLine($"{Verb}: the sentence model could not be loaded: {SafeText.Escape(e.Message)}");
            return null;
        }
    }

    /// <summary>The bank's name is the file name without extension: it must be usable as one.</summary>
    private static string? BankNameRefusal(string path)
    {
        var name = Path.GetFileNameWithoutExtension(path);
        if (name.Length == 0) return "the file name gives no bank name";
        if (name.Length > TextLimits.ReasonNameChars) return $"the bank name (file name) is longer than {TextLimits.ReasonNameChars} characters";
        if (!SafeText.IsClean(name)) return "the bank name (file name) has a control or format character";
        return null;
    }

    private static T? Load<T>(string path, Func<string, TextReader, T> load) where T : class
    {
        try
        {
            var bytes = RegularFile.ReadAllBytes(path, MaxBankFileBytes);
            using var reader = new StreamReader(new MemoryStream(bytes), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            return load(Path.GetFileNameWithoutExtension(path), reader);
        }
        catch (TextBankException e)
        {
            foreach (var row in e.Errors) Console.Error.WriteLine($"{Verb}: {SafeText.Escape(path)}:{row.Line}: {row.Message}");
        }
        catch (ModerationException e)
        {
            Console.Error.WriteLine($"{Verb}: {SafeText.Escape(path)}: {e.Code}: {e.Message}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"{Verb}: {SafeText.Escape(path)}: {ErrorCodes.MediaUnavailable}: {SafeText.Escape(e.Message)}");
        }
        return null;
    }

    /// <summary>Standard input, one text per line (a trailing CR dropped), each line read at most to
    /// <see cref="MaxTextChars"/>: a longer line is reported and skipped, never held whole.</summary>
    private static IEnumerable<(string? Text, string? Error)> StdinLines()
    {
        using var reader = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false), detectEncodingFromByteOrderMarks: true, bufferSize: 64 * 1024);
        var line = new StringBuilder();
        int number = 0;
        while (true)
        {
            line.Clear();
            bool tooLong = false, any = false;
            int c;
            while ((c = reader.Read()) >= 0 && c != '\n')
            {
                any = true;
                if (line.Length < MaxTextChars + 1) line.Append((char)c);
                else tooLong = true;
            }
            if (c < 0 && !any) yield break;
            number++;
            if (line.Length > 0 && line[^1] == '\r') line.Length--;
            if (tooLong || line.Length > MaxTextChars)
                yield return (null, $"standard input line {number}: longer than {MaxTextChars} characters, skipped");
            else
                yield return (line.ToString(), null);
            if (c < 0) yield break;
        }
    }

    private static void WriteLine(Stream stdout, string text, IReadOnlyList<TextMatch> matches)
    {
        using (var json = new Utf8JsonWriter(stdout))
        {
            json.WriteStartObject();
            json.WriteString("text", text);
            json.WriteStartArray("matches");
            foreach (var m in matches)
            {
                json.WriteStartObject();
                json.WriteString("kind", m.Kind);
                json.WriteString("bank", m.Bank);
                json.WriteString("id", m.Id);
                json.WriteString("category", m.Category);
                if (m.Similarity is { } similarity)
                {
                    json.WriteNumber("similarity", Math.Round(similarity, 4));
                }
                else
                {
                    json.WriteNumber("start", m.Start);
                    json.WriteNumber("end", m.End);
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        stdout.Write("\n"u8);
        stdout.Flush();
    }
}
