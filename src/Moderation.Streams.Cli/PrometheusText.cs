using System.Globalization;

namespace Moderation.Streams.Cli;

/// <summary>A small reader for the Prometheus text format (what <c>/metrics</c> serves): comments skipped,
/// labels unescaped, values parsed invariantly (NaN and ±Inf included).</summary>
public static class PrometheusText
{
    public static List<PrometheusSample> Parse(string text)
    {
        var samples = new List<PrometheusSample>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            int brace = line.IndexOf('{');
            int space = line.IndexOf(' ');
            string name;
            var labels = new Dictionary<string, string>();
            string rest;
            if (brace >= 0 && (space < 0 || brace < space))
            {
                name = line[..brace];
                int close = ParseLabels(line, brace + 1, labels);
                rest = line[(close + 1)..].Trim();
            }
            else
            {
                if (space < 0) continue;
                name = line[..space];
                rest = line[(space + 1)..].Trim();
            }
            var valueText = rest.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
            if (valueText is null || !TryParseValue(valueText, out var value)) continue;
            samples.Add(new PrometheusSample(name, labels, value));
        }
        return samples;
    }

    private static int ParseLabels(string line, int i, Dictionary<string, string> labels)
    {
        while (i < line.Length && line[i] != '}')
        {
            if (line[i] is ',' or ' ') { i++; continue; }
            int eq = line.IndexOf('=', i);
            var key = line[i..eq].Trim();
            i = eq + 2; // skip ="
            var value = new System.Text.StringBuilder();
            while (i < line.Length && line[i] != '"')
            {
                if (line[i] == '\\' && i + 1 < line.Length)
                {
                    i++;
                    value.Append(line[i] switch { 'n' => '\n', _ => line[i] });
                }
                else value.Append(line[i]);
                i++;
            }
            labels[key] = value.ToString();
            i++; // closing quote
        }
        return i;
    }

    private static bool TryParseValue(string text, out double value)
    {
        switch (text)
        {
            case "NaN": value = double.NaN; return true;
            case "+Inf": value = double.PositiveInfinity; return true;
            case "-Inf": value = double.NegativeInfinity; return true;
            default: return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }
    }

    /// <summary>The q-quantile of a histogram from its cumulative <c>_bucket</c> samples (linear within a bucket).</summary>
    public static double? Quantile(IEnumerable<PrometheusSample> buckets, double q)
    {
        var points = buckets
            .Select(b => (Le: b.Label("le") is { } le ? (le == "+Inf" ? double.PositiveInfinity : double.Parse(le, CultureInfo.InvariantCulture)) : double.NaN, Count: b.Value))
            .Where(p => !double.IsNaN(p.Le))
            .GroupBy(p => p.Le).Select(g => (Le: g.Key, Count: g.Sum(x => x.Count)))
            .OrderBy(p => p.Le).ToList();
        if (points.Count == 0 || points[^1].Count <= 0) return null;
        double rank = q * points[^1].Count;
        double previousLe = 0, previousCount = 0;
        foreach (var (le, count) in points)
        {
            if (count >= rank)
            {
                if (double.IsPositiveInfinity(le)) return previousLe;
                double inBucket = count - previousCount;
                return inBucket <= 0 ? le : previousLe + (le - previousLe) * (rank - previousCount) / inBucket;
            }
            previousLe = le;
            previousCount = count;
        }
        return previousLe;
    }
}
