namespace Moderation.Streams.Text;

/// <summary>
/// The parts of a long text that meaning banks also compare on their own: a text's mean embedding dilutes one violating
/// sentence among many benign ones (and the model reads only its first 256 tokens), so padding a known scam with
/// harmless chatter would hide it. A text longer than <see cref="MaxChars"/> is cut at sentence ends (<c>. ! ?</c>,
/// their fullwidth forms, line breaks): each sentence is a chunk of its own (so no neighbour dilutes it), except that
/// a chunk shorter than <see cref="MinChars"/> takes the next sentence too, and that bound doubles while there would be
/// more than <see cref="MaxChunks"/> chunks (tiny sentences cannot multiply the model calls, nor push a sentence out of
/// reach); a sentence longer than <see cref="MaxChars"/> is cut at spaces (or hard, with no space). Embedding costs about
/// what the text's tokens cost either way.
/// </summary>
public static class TextChunks
{
    public const int MaxChars = 256;

    /// <summary>A chunk shorter than this takes the next sentence too (doubled while the chunks would pass
    /// <see cref="MaxChunks"/>).</summary>
    public const int MinChars = 24;

    public const int MaxChunks = 160;

    /// <summary>The chunks' UTF-16 spans <c>[Start, End)</c>, trimmed; none when the text is short enough to be read whole.</summary>
    public static IReadOnlyList<(int Start, int End)> Split(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length <= MaxChars) return [];
        var sentences = new List<(int Start, int End)>();
        int from = 0;
        for (int i = 0; i < text.Length; i++)
            if (text[i] is '.' or '!' or '?' or '\n' or '。' or '！' or '？')
            {
                sentences.Add((from, i + 1));
                from = i + 1;
            }
        if (from < text.Length) sentences.Add((from, text.Length));
        for (int min = MinChars; ; min *= 2)
        {
            var chunks = Chunks(text, sentences, min);
            if (chunks.Count <= MaxChunks) return chunks;
            if (min >= MaxChars) return chunks[..MaxChunks]; // whole chunks of MaxChars: only a text over 40,000 characters
        }
    }

    /// <summary>The sentences as chunks: each on its own, a chunk shorter than <paramref name="minChars"/> taking the next.</summary>
    private static List<(int Start, int End)> Chunks(string text, List<(int Start, int End)> sentences, int minChars)
    {
        var chunks = new List<(int Start, int End)>();
        int start = -1, end = -1;
        void Flush()
        {
            if (start >= 0 && Trim(text, start, end) is { } chunk) chunks.Add(chunk);
            start = -1;
        }
        foreach (var (s, e) in sentences)
        {
            if (start >= 0 && end - start < minChars && e - start <= MaxChars)
            {
                end = e; // a very short sentence ("Wow!") is read with the next one
                continue;
            }
            Flush();
            for (int at = s; at < e;)
            {
                int stop = Math.Min(e, at + MaxChars);
                if (stop < e)
                {
                    int space = text.LastIndexOf(' ', stop - 1, stop - at);
                    if (space > at) stop = space;
                }
                if (stop == e) (start, end) = (at, stop); // the sentence's last piece may take the next sentences
                else if (Trim(text, at, stop) is { } piece) chunks.Add(piece);
                at = stop;
            }
        }
        Flush();
        return chunks;
    }

    private static (int Start, int End)? Trim(string text, int start, int end)
    {
        while (start < end && char.IsWhiteSpace(text[start])) start++;
        while (end > start && char.IsWhiteSpace(text[end - 1])) end--;
        return end > start ? (start, end) : null;
    }
}
