using System.Globalization;
using System.Text.Json;

namespace Moderation.Streams.Kafka.Replay;

/// <summary>The previous outcome of every replayed content_id next to the replay's, and what changed.</summary>
public sealed class ReplayDiff
{
    private ReplayDiff(long compared, long unchanged, IReadOnlyList<OutcomeChange> changes)
    {
        Compared = compared;
        Unchanged = unchanged;
        Changes = changes;
        Transitions = changes.GroupBy(c => c.Transition).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => (long)g.Count());
    }

    /// <summary>Content ids the replay decided (each counted once: its latest replayed outcome).</summary>
    public long Compared { get; }
    public long Unchanged { get; }
    public long Changed => Changes.Count;

    /// <summary><c>before-&gt;after</c> → count, only for changes; <c>none</c> means no previous outcome was published.</summary>
    public IReadOnlyDictionary<string, long> Transitions { get; }

    public IReadOnlyList<OutcomeChange> Changes { get; }

    /// <summary>Latest (by decided_at) outcome per content_id on each side; content ids without a previous outcome count as <c>none</c>.</summary>
    public static ReplayDiff Compute(IEnumerable<PublishedOutcome> previous, IEnumerable<PublishedOutcome> replayed)
    {
        var after = Latest(replayed);
        var before = Latest(previous.Where(p => after.ContainsKey(p.ContentId)));
        var changes = new List<OutcomeChange>();
        long unchanged = 0;
        foreach (var (id, a) in after.OrderBy(x => x.Key, StringComparer.Ordinal))
        {
            before.TryGetValue(id, out var b);
            var beforeAction = b?.Action ?? PublishedOutcome.None;
            if (beforeAction == a.Action)
            {
                unchanged++;
                continue;
            }
            changes.Add(new OutcomeChange(id, beforeAction, a.Action, b?.PolicyVersion, a.PolicyVersion, b?.ModelVersion, a.ModelVersion, a.Partition, a.Offset)
            {
                BeforeReason = b?.Reason, AfterReason = a.Reason, BeforeScore = b?.Score, AfterScore = a.Score, BeforeBank = b?.Banks, AfterBank = a.Banks,
            });
        }
        return new ReplayDiff(after.Count, unchanged, changes);
    }

    private static Dictionary<string, PublishedOutcome> Latest(IEnumerable<PublishedOutcome> outcomes)
    {
        var latest = new Dictionary<string, PublishedOutcome>(StringComparer.Ordinal);
        foreach (var o in outcomes)
        {
            if (!latest.TryGetValue(o.ContentId, out var seen) || o.DecidedAt > seen.DecidedAt
                || (o.DecidedAt == seen.DecidedAt && (o.Partition, o.Offset).CompareTo((seen.Partition, seen.Offset)) > 0))
                latest[o.ContentId] = o;
        }
        return latest;
    }

    /// <summary>One line per change: <c>content_id,before,after,before_policy_version,after_policy_version,before_model_version,after_model_version,partition,offset,
    /// before_reason,after_reason,before_score,after_score,before_bank,after_bank</c> (reasons in short, scores <c>LABEL:SCORE</c>,
    /// banks space-separated).</summary>
    public void WriteCsv(TextWriter writer)
    {
        writer.WriteLine("content_id,before,after,before_policy_version,after_policy_version,before_model_version,after_model_version,partition,offset," +
                         "before_reason,after_reason,before_score,after_score,before_bank,after_bank");
        foreach (var c in Changes)
            writer.WriteLine(string.Join(",", Csv(c.ContentId), c.Before, c.After, Csv(c.BeforePolicyVersion), Csv(c.AfterPolicyVersion),
                Csv(c.BeforeModelVersion), Csv(c.AfterModelVersion), c.Partition?.ToString(CultureInfo.InvariantCulture) ?? "", c.Offset?.ToString(CultureInfo.InvariantCulture) ?? "",
                Csv(c.BeforeReason), Csv(c.AfterReason), Csv(c.BeforeScore), Csv(c.AfterScore), Csv(c.BeforeBank), Csv(c.AfterBank)));
    }

    /// <summary><c>{"summary":{"compared","unchanged","changed","transitions":{…}},"changes":[…]}</c>, snake_case.</summary>
    public void WriteJson(Stream stream, object? range = null)
    {
        JsonSerializer.Serialize(stream, new
        {
            Range = range,
            Summary = new { Compared, Unchanged, Changed, Transitions },
            Changes,
        }, ReportJson);
    }

    private static readonly JsonSerializerOptions ReportJson = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        WriteIndented = true,
    };

    // content ids are [A-Za-z0-9._:-] by contract; versions are free text: quote when needed (RFC 4180).
    private static string Csv(string? value) =>
        value is null ? "" : value.IndexOfAny([',', '"', '\n', '\r']) < 0 ? value : "\"" + value.Replace("\"", "\"\"") + "\"";
}
