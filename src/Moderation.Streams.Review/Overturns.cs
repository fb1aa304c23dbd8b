using Moderation.Streams.Contracts;

namespace Moderation.Streams.Review;

/// <summary>
/// What counts as overturning the machine. An item reaches review because signals flagged it (a model class over its
/// review threshold, a bank, a text bank, the uploader's record); each flagging signal is one row, keyed by the model
/// version and class (<c>model:porn</c>) or the signal (<c>bank:NAME</c>, <c>text:CATEGORY</c>, <c>uploader</c>…). An
/// <c>allow</c> verdict overturns every flag of the item; a <c>takedown</c> upholds them.
/// </summary>
public static class Overturns
{
    private const char Sep = '|';

    /// <summary>The hash fields a verdict increments (each once, whatever the number of reasons naming it).</summary>
    public static IEnumerable<(string Field, long By)> Fields(DecisionEvent decision, string verdict)
    {
        bool overturned = verdict == Actions.Allow;
        foreach (var (version, @class) in Flags(decision).Distinct())
        {
            yield return ($"{version}{Sep}{@class}{Sep}reviewed", 1);
            if (overturned) yield return ($"{version}{Sep}{@class}{Sep}overturned", 1);
        }
    }

    /// <summary>The (model version, class) flags of a decision; <c>-</c> stands for "no model" in the version.</summary>
    public static IEnumerable<(string Version, string Class)> Flags(DecisionEvent decision)
    {
        bool any = false;
        foreach (var r in decision.Reasons)
        {
            string? flag = r.Source switch
            {
                "model" => $"model:{r.Label}",
                "bank" => $"bank:{r.Bank}",
                "text" => $"text:{r.Category}",
                "" => null,
                _ => r.Source,
            };
            if (flag is null) continue;
            any = true;
            yield return (Clean(r.Source == "model" ? ModelVersionOf(r, decision) : "-"), Clean(flag));
        }
        if (!any) yield return ("-", "unflagged");
    }

    /// <summary>The decision's model version when it is this reason's model's (<c>nsfw-mobilenet-v2@1</c>), else the reason's model name.</summary>
    private static string ModelVersionOf(DecisionReason reason, DecisionEvent decision) => (reason.Model, decision.ModelVersion) switch
    {
        ({ } model, { } version) when version.StartsWith(model + "@", StringComparison.Ordinal) => version,
        ({ } model, _) => model,
        (null, { } version) => version,
        _ => "-",
    };

    private static string Clean(string value) => value.Replace(Sep, '/');

    public static IReadOnlyList<OverturnRow> Rows(IEnumerable<(string Field, long Count)> fields)
    {
        var rows = new Dictionary<(string, string), (long Reviewed, long Overturned)>();
        foreach (var (field, count) in fields)
        {
            var parts = field.Split(Sep);
            if (parts.Length != 3) continue;
            var key = (parts[0], parts[1]);
            var row = rows.GetValueOrDefault(key);
            rows[key] = parts[2] switch
            {
                "reviewed" => row with { Reviewed = count },
                "overturned" => row with { Overturned = count },
                _ => row,
            };
        }
        return [.. rows.Select(kv => new OverturnRow(kv.Key.Item1, kv.Key.Item2, kv.Value.Reviewed, kv.Value.Overturned))
            .OrderBy(r => r.ModelVersion, StringComparer.Ordinal).ThenBy(r => r.Class, StringComparer.Ordinal)];
    }
}
