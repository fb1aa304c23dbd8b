namespace Moderation.Streams.Text;

/// <summary>A labelled text: <see cref="Label"/> is a category, or null for a text that violates nothing.</summary>
public sealed record LabelledText(int Line, string Text, string? Label);

/// <summary>How the text banks did on one category of a labelled set: texts labelled with it, texts the banks put in it,
/// and those that were both.</summary>
public sealed record TextCategoryScore(string Category, int Labelled, int Flagged, int TruePositives)
{
    /// <summary>Of the texts flagged with the category, the share labelled with it; null when none was flagged.</summary>
    public double? Precision => Flagged == 0 ? null : (double)TruePositives / Flagged;

    /// <summary>Of the texts labelled with the category, the share flagged with it; null when none was labelled.</summary>
    public double? Recall => Labelled == 0 ? null : (double)TruePositives / Labelled;
}

/// <summary>
/// <c>evaluate --texts</c>: a labelled set of texts (CSV <c>text,label</c>, header optional; label <c>none</c>,
/// <c>benign</c> or <c>safe</c> = violates nothing) checked against text banks, scored per category. A text counts as
/// flagged with a category when any bank match of that category was found in it; the row <c>*</c> is any violation
/// (labelled with any category, flagged with any).
/// </summary>
public static class TextEvaluation
{
    public const string AnyCategory = "*";

    /// <summary>Labels that mean "violates nothing" (case-insensitive).</summary>
    public static IReadOnlySet<string> BenignLabels { get; } = new HashSet<string>(["none", "benign", "safe"], StringComparer.OrdinalIgnoreCase);

    /// <summary>Reads the labelled set; every bad row is reported at once.</summary>
    /// <param name="maxTextChars">A longer text is refused (the limit a text item has).</param>
    /// <exception cref="TextBankException">A row is refused.</exception>
    public static IReadOnlyList<LabelledText> Parse(string name, TextReader reader, int maxTextChars = 10_000)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var errors = new List<TextBankRowError>();
        var rows = new List<LabelledText>();
        foreach (var (line, fields) in TextBankCsv.Rows(reader, "text", errors))
        {
            if (fields.Count != 2)
            {
                errors.Add(new TextBankRowError(line, "expected text,label"));
                continue;
            }
            string text = fields[0], label = fields[1].Trim();
            if (text.Length == 0 || text.Length > maxTextChars)
            {
                errors.Add(new TextBankRowError(line, $"text must have 1 to {maxTextChars} characters"));
                continue;
            }
            if (label.Length == 0)
            {
                errors.Add(new TextBankRowError(line, "label is empty (none, benign or safe for a text that violates nothing)"));
                continue;
            }
            if (TextBankCsv.Refusal(label, "x") is { } refused)
            {
                errors.Add(new TextBankRowError(line, refused.Replace("category", "label", StringComparison.Ordinal)));
                continue;
            }
            rows.Add(new LabelledText(line, text, BenignLabels.Contains(label) ? null : label));
        }
        if (errors.Count > 0) throw new TextBankException(name, errors);
        return rows;
    }

    /// <summary>Scores per category (ordered by name), then the <see cref="AnyCategory"/> row.</summary>
    public static IReadOnlyList<TextCategoryScore> Score(IReadOnlyList<(LabelledText Row, IReadOnlyList<TextMatch> Matches)> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var categories = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (row, matches) in results)
        {
            if (row.Label is { } label) categories.Add(label);
            foreach (var m in matches) categories.Add(m.Category);
        }
        var scores = new List<TextCategoryScore>(categories.Count + 1);
        foreach (var category in categories)
        {
            int labelled = 0, flagged = 0, both = 0;
            foreach (var (row, matches) in results)
            {
                bool isLabelled = row.Label == category, isFlagged = matches.Any(m => m.Category == category);
                if (isLabelled) labelled++;
                if (isFlagged) flagged++;
                if (isLabelled && isFlagged) both++;
            }
            scores.Add(new TextCategoryScore(category, labelled, flagged, both));
        }
        int anyLabelled = results.Count(r => r.Row.Label is not null), anyFlagged = results.Count(r => r.Matches.Count > 0);
        int anyBoth = results.Count(r => r.Row.Label is not null && r.Matches.Count > 0);
        scores.Add(new TextCategoryScore(AnyCategory, anyLabelled, anyFlagged, anyBoth));
        return scores;
    }
}
