using System.Globalization;
using System.Text;
using Moderation.Streams.Contracts;
using ScottPlot;

namespace Moderation.Streams.Evaluation;

/// <summary>
/// Writes an evaluation to a folder: <c>summary.md</c> (metrics, confusion matrix, thresholds, current vs proposed
/// policy), <c>pr-CLASS.png</c> (precision–recall curve), <c>sweep-CLASS.png</c> (precision, recall and F1 against
/// the threshold, with the chosen one marked), <c>hist-CLASS.png</c> (score histogram, positives vs the rest; both
/// on a log-odds score axis where the scores crowd near 0 or 1, see <see cref="ScoreAxis"/>), average precision,
/// <c>scores.csv</c> and <c>proposed-policy.json</c>. Plots are ScottPlot PNGs, rendered headless with SkiaSharp.
/// </summary>
public static class EvaluationReport
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <returns>The files written.</returns>
    public static IReadOnlyList<string> Write(EvaluationResult result, string folder, string source)
    {
        Directory.CreateDirectory(folder);
        var files = new List<string>();
        foreach (var (label, sweep) in result.Sweeps)
        {
            if (sweep.Positives == 0) continue;
            files.Add(PrCurve(folder, label, sweep, result.AtTarget[label]));
            files.Add(Sweep(folder, label, sweep, result.AtTarget[label], result.Settings.TargetPrecision));
            files.Add(Histogram(folder, label, result));
        }
        var scores = Path.Combine(folder, "scores.csv");
        File.WriteAllText(scores, ScoresCsv(result));
        files.Add(scores);
        var policy = Path.Combine(folder, "proposed-policy.json");
        File.WriteAllText(policy, PolicyFile.ToJson(result.Proposed));
        files.Add(policy);
        var summary = Path.Combine(folder, "summary.md");
        File.WriteAllText(summary, Markdown(result, source, files.Select(Path.GetFileName).ToList()!));
        files.Add(summary);
        return files;
    }

    /// <summary>The console and Markdown text: metrics per class, confusion matrix, thresholds at the target precision, policies.</summary>
    public static string Markdown(EvaluationResult r, string source, IReadOnlyList<string>? files = null)
    {
        var s = new StringBuilder();
        s.AppendLine($"# Evaluation of {r.Settings.Model}");
        s.AppendLine();
        s.AppendLine($"Set: `{source}` — {r.Images.Count} images, {(r.Mode == LabelMode.Binary ? "safe/unsafe labels" : "five-class labels")}; " +
                     $"unsafe = {string.Join(", ", r.UnsafeClasses)} (the classes the base policy takes down). " +
                     "Numbers describe this set only; a small or unrepresentative set says little about the model.");
        s.AppendLine();
        s.AppendLine(r.Mode == LabelMode.Binary ? "## Per label (top class unsafe or not)" : "## Per class (top class)");
        s.AppendLine();
        s.AppendLine("| label | support | precision | recall | F1 |");
        s.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var m in r.Confusion.PerClass)
            s.AppendLine($"| {m.Label} | {m.Support} | {F(m.Precision)} | {F(m.Recall)} | {F(m.F1)} |");
        s.AppendLine();
        s.AppendLine($"Accuracy {F(r.Confusion.Accuracy)}, macro F1 {F(r.Confusion.MacroF1)}.");
        s.AppendLine();
        s.AppendLine("## Confusion matrix (rows: label, columns: predicted)");
        s.AppendLine();
        s.AppendLine($"| | {string.Join(" | ", r.Confusion.Labels)} |");
        s.AppendLine($"|---|{string.Concat(r.Confusion.Labels.Select(_ => "---:|"))}");
        foreach (var actual in r.Confusion.Labels)
            s.AppendLine($"| **{actual}** | {string.Join(" | ", r.Confusion.Labels.Select(p => r.Confusion[actual, p]))} |");
        s.AppendLine();
        s.AppendLine($"## Threshold for precision {r.Settings.TargetPrecision:0.###}");
        s.AppendLine();
        s.AppendLine("| score | positives | average precision | threshold | precision | recall |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var (label, sweep) in r.Sweeps)
        {
            var p = r.AtTarget[label];
            var positives = r.Mode == LabelMode.Binary ? $"{sweep.Positives} unsafe" : sweep.Positives.ToString(Inv);
            s.AppendLine(p is null
                ? $"| {label} | {positives} | {F(sweep.AveragePrecision)} | not reached | | |"
                : $"| {label} | {positives} | {F(sweep.AveragePrecision)} | {p.Threshold.ToString("0.######", Inv)} | {F(p.Precision)} | {F(p.Recall)} |");
        }
        s.AppendLine();
        s.AppendLine("## Policies on this set");
        s.AppendLine();
        s.AppendLine("| policy | takedowns | takedown precision | takedown recall | reviews | unsafe allowed (slip-through) |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var (name, o) in new[] { ("current", r.Current), ("proposed", r.ProposedOutcome) })
            s.AppendLine($"| {name} `{o.Version}` | {o.Takedowns} | {F(o.TakedownPrecision)} | {F(o.TakedownRecall)} | {o.Reviews} | {o.UnsafeAllowed} of {o.Unsafe} ({F(o.SlipThrough)}) |");
        s.AppendLine();
        s.AppendLine(r.MeetsTarget
            ? $"The proposed policy reaches takedown precision {F(r.ProposedOutcome.TakedownPrecision)} ≥ {r.Settings.TargetPrecision:0.###} on this set."
            : $"**No policy reaching takedown precision {r.Settings.TargetPrecision:0.###} takes anything down on this set.**");
        foreach (var problem in r.Problems) s.AppendLine($"\n**Not safe to use:** {problem}.");
        s.AppendLine();
        s.AppendLine("| class | takedown ≥ | review ≥ | note |");
        s.AppendLine("|---|---:|---:|---|");
        foreach (var c in r.Choices)
            s.AppendLine($"| {c.Label} | {c.Takedown?.ToString("0.######", Inv) ?? "—"} | {c.Review?.ToString("0.######", Inv) ?? "—"} | {c.Note} |");
        s.AppendLine();
        s.AppendLine("```json");
        s.Append(PolicyFile.ToJson(r.Proposed));
        s.AppendLine("```");
        if (files is { Count: > 0 })
        {
            s.AppendLine();
            s.AppendLine("## Plots");
            s.AppendLine();
            foreach (var f in files.Where(f => f.EndsWith(".png", StringComparison.Ordinal))) s.AppendLine($"![{f}]({f})");
        }
        return s.ToString();
    }

    private static string F(double v) => double.IsNaN(v) ? "n/a" : v.ToString("0.000", Inv);

    private static string PrCurve(string folder, string label, ThresholdSweep sweep, SweepPoint? chosen)
    {
        var plot = new Plot();
        var points = sweep.Points.Where(p => !double.IsNaN(p.Precision)).ToList();
        var line = plot.Add.Scatter(points.Select(p => p.Recall).Prepend(0).ToArray(), points.Select(p => p.Precision).Prepend(points.FirstOrDefault()?.Precision ?? 1).ToArray());
        line.LegendText = $"{label}: AP {F(sweep.AveragePrecision)} ({sweep.Positives} positives, {sweep.Negatives} negatives)";
        if (chosen is not null)
        {
            var mark = plot.Add.Marker(chosen.Recall, chosen.Precision, MarkerShape.FilledCircle, 10, Colors.Red);
            mark.LegendText = $"threshold {chosen.Threshold:0.####}";
        }
        plot.Title($"Precision-recall: {label} (average precision {F(sweep.AveragePrecision)})");
        plot.XLabel("recall");
        plot.YLabel("precision");
        plot.Axes.Bottom.TickGenerator = UnitTicks();
        plot.Axes.Left.TickGenerator = UnitTicks();
        plot.Axes.SetLimits(0, 1.02, 0, 1.05);
        plot.ShowLegend(Alignment.LowerLeft);
        return Save(plot, folder, $"pr-{label}.png");
    }

    private static string Sweep(string folder, string label, ThresholdSweep sweep, SweepPoint? chosen, double target)
    {
        var plot = new Plot();
        var points = sweep.Points.Reverse().ToList(); // thresholds ascending
        var axis = ScoreAxis.For([.. points.Select(p => p.Threshold)]);
        double[] x = [.. points.Select(p => axis.Map(p.Threshold))];
        foreach (var (name, values) in new[] { ("precision", points.Select(p => double.IsNaN(p.Precision) ? 1 : p.Precision)), ("recall", points.Select(p => p.Recall)), ("F1", points.Select(p => p.F1)) })
        {
            var s = plot.Add.Scatter(x, values.ToArray());
            s.LegendText = name;
            s.ConnectStyle = ConnectStyle.StepVertical;
        }
        var targetLine = plot.Add.HorizontalLine(target);
        targetLine.LegendText = $"target precision {target:0.###}";
        targetLine.LinePattern = LinePattern.Dashed;
        if (chosen is not null)
        {
            var v = plot.Add.VerticalLine(axis.Map(chosen.Threshold));
            v.LegendText = $"chosen {chosen.Threshold.ToString("0.######", Inv)}";
        }
        plot.Title($"Threshold sweep: {label}");
        plot.XLabel($"{label} score threshold{(axis.LogOdds ? " (log-odds scale)" : "")}");
        plot.YLabel("value");
        plot.Axes.Bottom.TickGenerator = Ticks(axis);
        plot.Axes.Left.TickGenerator = UnitTicks();
        var (min, max) = Padded(axis);
        plot.Axes.SetLimits(min, max, 0, 1.05);
        plot.ShowLegend(Alignment.LowerLeft);
        return Save(plot, folder, $"sweep-{label}.png");
    }

    private static string Histogram(string folder, string label, EvaluationResult result)
    {
        const int bins = 20;
        bool Positive(ScoredImage i) => result.Mode == LabelMode.Binary ? i.Label == LabelledSet.Unsafe : i.Label == label;
        var plot = new Plot();
        var axis = ScoreAxis.For([.. result.Images.Select(i => i.Scores.GetValueOrDefault(label))]);
        var (min, max) = axis.Limits;
        double width = (max - min) / bins;
        double tallest = 0;
        foreach (var (name, positive, color) in new[] { ("positives", true, Colors.OrangeRed), ("others", false, Colors.SteelBlue) })
        {
            var counts = new double[bins];
            foreach (var i in result.Images.Where(i => Positive(i) == positive))
                counts[Math.Clamp((int)((axis.Map(i.Scores.GetValueOrDefault(label)) - min) / width), 0, bins - 1)]++;
            tallest = Math.Max(tallest, counts.Max());
            double offset = positive ? 0.25 : 0.75;
            var bars = plot.Add.Bars(Enumerable.Range(0, bins).Select(b => min + (b + offset) * width).ToArray(), counts);
            foreach (var bar in bars.Bars)
            {
                bar.Size = 0.45 * width;
                bar.FillColor = color;
            }
            bars.LegendText = positive ? (result.Mode == LabelMode.Binary ? "labelled unsafe" : $"labelled {label}") : name;
        }
        plot.Title($"Score histogram: {label}");
        plot.XLabel($"{label} score{(axis.LogOdds ? " (log-odds scale)" : "")}");
        plot.YLabel("images");
        plot.Axes.Bottom.TickGenerator = Ticks(axis);
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(Math.Max(1, Math.Ceiling(tallest / 8.0))); // whole images
        plot.Axes.SetLimitsX(Padded(axis).Min, Padded(axis).Max);
        plot.Axes.Margins(bottom: 0);
        plot.ShowLegend(Alignment.UpperCenter);
        return Save(plot, folder, $"hist-{label}.png");
    }

    private static ScottPlot.TickGenerators.NumericManual Ticks(ScoreAxis axis)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        foreach (var (position, text) in axis.Ticks) ticks.AddMajor(position, text);
        return ticks;
    }

    // Room for the outer tick labels, which are centred on their ticks.
    private static (double Min, double Max) Padded(ScoreAxis axis)
    {
        var (min, max) = axis.Limits;
        return axis.LogOdds ? (min - 0.02 * (max - min), max + 0.04 * (max - min)) : (min, max);
    }

    private static ScottPlot.TickGenerators.NumericManual UnitTicks() =>
        Ticks(new ScoreAxis(false, [.. Enumerable.Range(0, 11).Select(i => (i / 10.0, (i / 10.0).ToString("0.0", Inv)))]));

    // The bundled SkiaSharp native library has no fontconfig, so family names find nothing and text would not be
    // drawn: register a TrueType file from the usual places by path. Without one, plots are drawn without text.
    private static readonly string? FontName = RegisterFont();

    private static string? RegisterFont()
    {
        string[] candidates =
        [
            Environment.GetEnvironmentVariable("MODERATION_PLOT_FONT") ?? "",
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
            "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
            "/Library/Fonts/Arial.ttf",
            "C:\\Windows\\Fonts\\arial.ttf",
        ];
        var file = candidates.FirstOrDefault(File.Exists);
        if (file is null) return null;
        const string name = "Moderation Plot Font";
        Fonts.AddFontFile(name, file);
        return name;
    }

    private static string Save(Plot plot, string folder, string name)
    {
        if (FontName is not null) plot.Font.Set(FontName);
        var path = Path.Combine(folder, name);
        plot.SavePng(path, 800, 500);
        return path;
    }

    private static string ScoresCsv(EvaluationResult r)
    {
        var s = new StringBuilder("path,label,top," + string.Join(",", Policy.KnownLabels) + ",current_action,proposed_action\n");
        foreach (var i in r.Images)
        {
            var path = i.Path.Contains(',') || i.Path.Contains('"') ? $"\"{i.Path.Replace("\"", "\"\"")}\"" : i.Path;
            s.Append(Inv, $"{path},{i.Label},{i.TopLabel},{string.Join(",", Policy.KnownLabels.Select(l => i.Scores.GetValueOrDefault(l).ToString("0.######", Inv)))},");
            s.Append(Inv, $"{ActionOf(r.Base, i)},{ActionOf(r.Proposed, i)}\n");
        }
        return s.ToString();
    }

    private static string ActionOf(Policy policy, ScoredImage i) => policy.ApplyThresholds("m", i.Scores).Action;
}
