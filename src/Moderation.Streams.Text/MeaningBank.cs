using System.Security.Cryptography;
using System.Text;
using Moderation.Streams.Text.Embeddings;

namespace Moderation.Streams.Text;

/// <summary>
/// A <c>texts</c> bank: rows <c>text,category[,id]</c> (id defaults to the text when it has at most
/// <see cref="MaxDefaultIdChars"/> characters, else <c>t-</c> and 16 hex digits of its SHA-256), each embedded once when the bank is built; a text matches an entry when
/// the cosine similarity of their embeddings is at least the bank's <see cref="Threshold"/>. The index is a brute-force
/// scan over the unit vectors held in one contiguous array (a SIMD dot product per entry: 10,000 entries × 384 floats is
/// about 4 million multiply-adds, well under a millisecond per text on one core, and exact, where an approximate index
/// would trade recall for speed that is not needed at this size). A text matches a bank at most once, through its most
/// similar entry.
/// </summary>
public sealed class MeaningBank
{
    /// <summary>The similarity a bank needs by default (measured on the cases in the model card).</summary>
    public const float DefaultThreshold = 0.70f;

    /// <summary>A bank text longer than this is refused (the model reads at most 256 tokens anyway).</summary>
    public const int MaxTextChars = 1_000;

    /// <summary>A row without an id is named by its text up to this length, by a hash of it beyond.</summary>
    public const int MaxDefaultIdChars = 64;

    private readonly MeaningEntry[] _entries;
    private readonly float[] _vectors;
    private readonly int _dimensions;

    private MeaningBank(string name, float threshold, MeaningEntry[] entries, float[] vectors, int dimensions)
    {
        Name = name;
        Threshold = threshold;
        _entries = entries;
        _vectors = vectors;
        _dimensions = dimensions;
    }

    public string Name { get; }

    /// <summary>The least cosine similarity that matches.</summary>
    public float Threshold { get; }

    public IReadOnlyList<MeaningEntry> Entries => _entries;

    /// <summary>The rows of a bank file, checked (every refused row is reported at once).</summary>
    /// <exception cref="TextBankException">A row is refused.</exception>
    public static IReadOnlyList<MeaningEntry> Parse(string name, TextReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var errors = new List<TextBankRowError>();
        var byId = new Dictionary<string, MeaningEntry>(StringComparer.Ordinal);
        foreach (var (line, fields) in TextBankCsv.Rows(reader, "text", errors))
        {
            if (fields.Count is < 2 or > 3)
            {
                errors.Add(new TextBankRowError(line, "expected text,category[,id]"));
                continue;
            }
            string text = fields[0].Trim(), category = fields[1].Trim();
            if (text.Length == 0 || text.Length > MaxTextChars)
            {
                errors.Add(new TextBankRowError(line, $"text must have 1 to {MaxTextChars} characters"));
                continue;
            }
            string id = fields.Count > 2 && fields[2].Trim().Length > 0 ? fields[2].Trim() : DefaultId(text);
            if (TextBankCsv.Refusal(category, id) is { } refused)
            {
                errors.Add(new TextBankRowError(line, refused));
                continue;
            }
            byId[id] = new MeaningEntry(text, category, id); // a later row with the same id wins
        }
        if (errors.Count > 0) throw new TextBankException(name, errors);
        return [.. byId.Values];
    }

    /// <summary>The id of a row that gives none.</summary>
    public static string DefaultId(string text) =>
        text.Length <= MaxDefaultIdChars && Moderation.Streams.Contracts.SafeText.IsClean(text)
            ? text
            : "t-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)), 0, 8);

    /// <summary>Checks a threshold: a cosine similarity in (0, 1].</summary>
    public static string? ThresholdRefusal(float threshold) =>
        float.IsFinite(threshold) && threshold > 0 && threshold <= 1 ? null : "the threshold must be a similarity above 0 and at most 1";

    /// <summary>Embeds every entry (all submitted at once, so the batcher runs them in full batches) and builds the bank.</summary>
    /// <param name="known">Vectors already computed for a text (a reload reuses the previous bank's), or null.</param>
    public static async Task<MeaningBank> BuildAsync(string name, IReadOnlyList<MeaningEntry> entries, float threshold, ITextEmbedder embedder,
        Func<string, float[]?>? known = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(entries);
        ArgumentNullException.ThrowIfNull(embedder);
        if (ThresholdRefusal(threshold) is { } why) throw new ArgumentOutOfRangeException(nameof(threshold), threshold, why);
        var vectors = await Task.WhenAll(entries.Select(e => known?.Invoke(e.Text) is { } v ? Task.FromResult(v) : embedder.EmbedAsync(e.Text, ct))).ConfigureAwait(false);
        int dimensions = vectors.Length > 0 ? vectors[0].Length : 0;
        var flat = new float[vectors.Length * dimensions];
        for (int i = 0; i < vectors.Length; i++)
        {
            if (vectors[i].Length != dimensions) throw new InvalidOperationException("the embedder returned vectors of different lengths");
            vectors[i].CopyTo(flat, i * dimensions);
        }
        return new MeaningBank(name, threshold, [.. entries], flat, dimensions);
    }

    /// <summary>The vector of an entry's text, if this bank holds it (for a reload to reuse).</summary>
    public float[]? VectorOf(string text)
    {
        for (int i = 0; i < _entries.Length; i++)
            if (string.Equals(_entries[i].Text, text, StringComparison.Ordinal)) return _vectors.AsSpan(i * _dimensions, _dimensions).ToArray();
        return null;
    }

    /// <summary>Every entry's text with its vector.</summary>
    public IEnumerable<KeyValuePair<string, float[]>> Vectors()
    {
        for (int i = 0; i < _entries.Length; i++) yield return new(_entries[i].Text, _vectors.AsSpan(i * _dimensions, _dimensions).ToArray());
    }

    /// <summary>The most similar entry to <paramref name="vector"/> and its similarity, or null when none reaches the threshold.</summary>
    public (MeaningEntry Entry, float Similarity)? Best(ReadOnlySpan<float> vector)
    {
        if (_entries.Length == 0) return null;
        if (vector.Length != _dimensions) throw new ArgumentException($"expected a vector of {_dimensions} floats", nameof(vector));
        int best = -1;
        float bestSimilarity = float.NegativeInfinity;
        var all = _vectors.AsSpan();
        for (int i = 0; i < _entries.Length; i++)
        {
            float similarity = VectorMath.Dot(all.Slice(i * _dimensions, _dimensions), vector);
            if (similarity > bestSimilarity)
            {
                bestSimilarity = similarity;
                best = i;
            }
        }
        return bestSimilarity >= Threshold ? (_entries[best], bestSimilarity) : null;
    }

    /// <summary>At most one match for the text: the most similar entry to any of its vectors (the whole text's and its
    /// chunks', <see cref="TextChunks"/>), reported over the whole text.</summary>
    public void Match(string text, IReadOnlyList<float[]> vectors, List<TextMatch> matches)
    {
        (MeaningEntry Entry, float Similarity)? best = null;
        foreach (var vector in vectors)
            if (Best(vector) is { } hit && (best is null || hit.Similarity > best.Value.Similarity)) best = hit;
        if (best is { } found)
            matches.Add(new TextMatch(TextMatchKinds.Text, Name, found.Entry.Id, found.Entry.Category, 0, text.Length, MathF.Round(found.Similarity, 4)));
    }
}
