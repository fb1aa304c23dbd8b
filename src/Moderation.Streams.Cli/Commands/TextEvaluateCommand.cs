using System.Globalization;
using System.Text;
using Moderation.Streams.Contracts;
using Moderation.Streams.Redis;
using Moderation.Streams.Redis.TextBanks;
using Moderation.Streams.Text;
using Moderation.Streams.Text.Embeddings;
using StackExchange.Redis;

namespace Moderation.Streams.Cli.Commands;

/// <summary>
/// <c>evaluate --texts FILE.csv</c>: every labelled text checked against the text banks stored in Redis, loaded as the
/// worker loads them (meaning banks with the sentence model), then precision and recall per category
/// (<see cref="TextEvaluation"/>), one tab-separated row each and a last row <c>*</c> for any violation.
/// </summary>
internal static class TextEvaluateCommand
{
    private const string Verb = "moderation evaluate";

    /// <summary>A labelled file larger than this is refused unread.</summary>
    public const long MaxFileBytes = 256L * 1024 * 1024;

    public static async Task<int> RunAsync(string path, string? redisConfiguration, double targetPrecision, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(redisConfiguration))
        {
            Console.Error.WriteLine($"{Verb}: --texts needs the text banks: --redis CONFIG (or env Redis__Configuration)");
            return ExitCodes.Usage;
        }
        IReadOnlyList<LabelledText> rows;
        try
        {
            var bytes = RegularFile.ReadAllBytes(path, MaxFileBytes);
            using var reader = new StreamReader(new MemoryStream(bytes), Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            rows = TextEvaluation.Parse(Path.GetFileName(path), reader, new EventLimits().MaxTextChars);
        }
        catch (TextBankException e)
        {
            foreach (var row in e.Errors) Console.Error.WriteLine($"{Verb}: {SafeText.Escape(path)}:{row.Line}: {row.Message}");
            return ExitCodes.Usage;
        }
        catch (ModerationException e)
        {
            Console.Error.WriteLine($"{Verb}: {SafeText.Escape(path)}: {e.Code}: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"{Verb}: {SafeText.Escape(path)}: {SafeText.Escape(e.Message)}");
            return ExitCodes.Usage;
        }
        if (rows.Count == 0)
        {
            Console.Error.WriteLine($"{Verb}: {SafeText.Escape(path)}: no labelled text");
            return ExitCodes.Usage;
        }

        await using var embedder = new LazyTextEmbedder(() => SentenceEmbedder.Load());
        TextMatcher matcher;
        try
        {
            await using var redis = await RedisConnector.ConnectAsync(redisConfiguration);
            (matcher, _) = await new RedisTextBankStore(redis).LoadAsync(embedder, null, ct);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"{Verb}: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            Console.Error.WriteLine($"{Verb}: Redis unavailable: {e.Message}");
            return ExitCodes.Failure;
        }
        catch (Exception e) when (e is TextBankException or IOException or InvalidDataException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            Console.Error.WriteLine($"{Verb}: the text banks could not be loaded: {SafeText.Escape(e.Message)}");
            return ExitCodes.Failure;
        }
        if (matcher.BankCount == 0)
        {
            Console.Error.WriteLine($"{Verb}: Redis holds no text bank to evaluate");
            return ExitCodes.Failure;
        }

        // Every text at once: meaning banks embed them through the batcher in full batches.
        var matches = await Task.WhenAll(rows.Select(r => matcher.MatchAsync(r.Text, ct)));
        var scores = TextEvaluation.Score([.. rows.Select((r, i) => (r, matches[i]))]);
        Console.Error.WriteLine($"evaluate: {rows.Count} texts from {SafeText.Escape(path)} against {matcher.BankCount} text bank(s)");
        Console.Out.WriteLine("category\tlabelled\tflagged\ttrue_positives\tprecision\trecall");
        foreach (var s in scores)
            Console.Out.WriteLine($"{s.Category}\t{s.Labelled}\t{s.Flagged}\t{s.TruePositives}\t{Ratio(s.Precision)}\t{Ratio(s.Recall)}");
        var missed = scores.Where(s => s.Category != TextEvaluation.AnyCategory && s.Precision < targetPrecision).ToList();
        foreach (var s in missed)
            Console.Error.WriteLine($"{Verb}: {s.Category}: precision {Ratio(s.Precision)} is below the target {targetPrecision.ToString("0.###", CultureInfo.InvariantCulture)}");
        return missed.Count == 0 ? ExitCodes.Ok : ExitCodes.Failure;
    }

    private static string Ratio(double? value) => value is { } v ? v.ToString("0.000", CultureInfo.InvariantCulture) : "-";
}
