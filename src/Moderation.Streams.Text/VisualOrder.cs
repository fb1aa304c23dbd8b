using System.Text;

namespace Moderation.Streams.Text;

/// <summary>
/// A text in the order a reader sees it when it uses a right-to-left override (U+202E RLO): the characters between an
/// RLO and its closing U+202C PDF (or the end of the line) are drawn in reverse, so <c>"\u202Emacs\u202C"</c> reads
/// <c>scam</c> while its characters say <c>macs</c>. Each such segment is reversed (by code point, so surrogate pairs
/// stay whole); an override nested in another is reversed with it, once. Each UTF-16 unit of the result keeps the span
/// of the original code point it came from, so a match found in the visual text maps back to the original.
/// </summary>
internal sealed class VisualOrder
{
    private const char Rlo = '\u202E', Pdf = '\u202C';

    private VisualOrder(string text, int[] starts, int[] ends)
    {
        Text = text;
        _starts = starts;
        _ends = ends;
    }

    private readonly int[] _starts, _ends;

    /// <summary>The text as drawn.</summary>
    public string Text { get; }

    /// <summary>The visual order of <paramref name="text"/>, or null when it overrides nothing.</summary>
    public static VisualOrder? Of(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!text.Contains(Rlo)) return null;
        var runes = new List<(int Start, int End, string Value)>(text.Length);
        for (int i = 0; i < text.Length;)
        {
            int length = char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;
            runes.Add((i, i + length, text.Substring(i, length)));
            i += length;
        }
        // Embeddings and overrides (LRE, RLE, LRO, RLO) nest until their PDF; a line ends them all. The outermost RLO's
        // extent is reversed.
        var depth = 0;
        int rloAt = -1, rloDepth = -1;
        bool reversed = false;
        void Close(int upTo)
        {
            if (rloAt < 0) return;
            runes.Reverse(rloAt + 1, upTo - (rloAt + 1));
            reversed = true;
            rloAt = -1;
            rloDepth = -1;
        }
        for (int k = 0; k < runes.Count; k++)
        {
            char c = runes[k].Value[0];
            if (c is '\u202A' or '\u202B' or '\u202D' or Rlo)
            {
                if (c == Rlo && rloAt < 0) (rloAt, rloDepth) = (k, depth);
                depth++;
            }
            else if (c == Pdf && depth > 0)
            {
                depth--;
                if (depth == rloDepth) Close(k);
            }
            else if (c is '\n' or '\r' or '\u2029' or '\u0085')
            {
                Close(k);
                depth = 0;
            }
        }
        Close(runes.Count);
        if (!reversed) return null;
        var visual = new StringBuilder(text.Length);
        var starts = new int[text.Length];
        var ends = new int[text.Length];
        foreach (var (start, end, value) in runes)
        {
            for (int u = 0; u < value.Length; u++)
            {
                starts[visual.Length + u] = start;
                ends[visual.Length + u] = end;
            }
            visual.Append(value);
        }
        return new VisualOrder(visual.ToString(), starts, ends);
    }

    /// <summary>The original span of the visual span <c>[start, end)</c>: from the first to the last original code point
    /// any of its units came from.</summary>
    public (int Start, int End) Original(int start, int end)
    {
        int min = int.MaxValue, max = 0;
        for (int i = start; i < end; i++)
        {
            min = Math.Min(min, _starts[i]);
            max = Math.Max(max, _ends[i]);
        }
        return (min, max);
    }
}
