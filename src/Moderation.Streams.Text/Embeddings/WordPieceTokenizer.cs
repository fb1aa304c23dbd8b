using System.Globalization;
using System.Text;

namespace Moderation.Streams.Text.Embeddings;

/// <summary>
/// BERT's uncased tokenizer, as all-MiniLM-L6-v2 was trained with: text cleaned (control characters dropped, every
/// whitespace a space), CJK ideographs split apart, lower case, accents stripped (NFD, combining marks dropped),
/// split on whitespace and punctuation, then WordPiece (greedy longest match first, continuations <c>##</c>, a word
/// with no split or over 100 characters is <c>[UNK]</c>). Ids are framed <c>[CLS] … [SEP]</c> and cut to
/// <see cref="MaxTokens"/>. Thread-safe (read-only once built).
/// </summary>
public sealed class WordPieceTokenizer
{
    private const int MaxWordChars = 100;
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int _unk, _cls, _sep;

    public WordPieceTokenizer(IEnumerable<string> vocabulary, int maxTokens = 256)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 3);
        _vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var token in vocabulary) _vocab.TryAdd(token, _vocab.Count);
        _lookup = _vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _unk = Id("[UNK]");
        _cls = Id("[CLS]");
        _sep = Id("[SEP]");
        MaxTokens = maxTokens;
    }

    /// <summary>Ids per text at most, <c>[CLS]</c> and <c>[SEP]</c> included: a longer text is cut (its start is kept).</summary>
    public int MaxTokens { get; }

    public int VocabularySize => _vocab.Count;

    private int Id(string token) => _vocab.TryGetValue(token, out var id) ? id : throw new ArgumentException($"the vocabulary has no {token}");

    /// <summary>The token ids of <paramref name="text"/>, framed and cut.</summary>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(Math.Min(MaxTokens, text.Length / 3 + 2)) { _cls };
        int room = MaxTokens - 1; // [SEP] last
        foreach (var word in Words(text))
        {
            if (ids.Count >= room) break;
            AddWordPieces(word, ids, room);
        }
        ids.Add(_sep);
        return [.. ids];
    }

    private void AddWordPieces(string word, List<int> ids, int room)
    {
        if (word.Length > MaxWordChars)
        {
            ids.Add(_unk);
            return;
        }
        int first = ids.Count, start = 0;
        Span<char> piece = stackalloc char[MaxWordChars + 2];
        while (start < word.Length)
        {
            int end = word.Length, found = -1;
            while (start < end)
            {
                int length = 0;
                if (start > 0)
                {
                    piece[0] = '#';
                    piece[1] = '#';
                    length = 2;
                }
                word.AsSpan(start, end - start).CopyTo(piece[length..]);
                length += end - start;
                if (_lookup.TryGetValue(piece[..length], out var id))
                {
                    found = id;
                    break;
                }
                end--;
            }
            if (found < 0)
            {
                ids.RemoveRange(first, ids.Count - first);
                ids.Add(_unk);
                return;
            }
            if (ids.Count >= room) return;
            ids.Add(found);
            start = end;
        }
    }

    /// <summary>The basic tokenizer: cleaned (<see cref="TextFolding.ReadersForm"/> first: format characters removed,
    /// compatibility forms and look-alike letters of other scripts read as ASCII), lower-cased, accent-stripped words and
    /// punctuation marks, in order.</summary>
    internal static IEnumerable<string> Words(string text)
    {
        var word = new StringBuilder();
        // Read as a reader sees it: zero-width characters and look-alike letters must not hide a known text.
        foreach (var rune in TextFolding.ReadersForm(text).EnumerateRunes())
        {
            int c = rune.Value;
            if (c == 0 || c == 0xFFFD || (Rune.IsControl(rune) && c is not ('\t' or '\n' or '\r'))) continue;
            if (Rune.IsWhiteSpace(rune))
            {
                if (word.Length > 0) yield return Flush(word);
                continue;
            }
            if (IsPunctuation(rune) || IsCjk(c))
            {
                if (word.Length > 0) yield return Flush(word);
                yield return Fold(rune.ToString());
                continue;
            }
            word.Append(rune.ToString());
        }
        if (word.Length > 0) yield return Flush(word);
    }

    private static string Flush(StringBuilder word)
    {
        var folded = Fold(word.ToString());
        word.Clear();
        return folded;
    }

    // Lower case with the accents dropped (BERT's strip_accents: NFD, combining marks removed). The product runs with
    // invariant globalization (no NFD), so an accented Latin letter is transliterated on its own (AnyAscii: é → e) and
    // a combining mark is dropped; other scripts are only lower-cased.
    private static string Fold(string s)
    {
        var result = new StringBuilder(s.Length);
        foreach (var rune in s.EnumerateRunes())
        {
            var lower = Rune.ToLowerInvariant(rune);
            var category = Rune.GetUnicodeCategory(lower);
            if (category is UnicodeCategory.NonSpacingMark) continue;
            if (lower.Value is >= 0xC0 and <= 0x24F && category is UnicodeCategory.LowercaseLetter)
                result.Append(AnyAscii.Transliteration.Transliterate(lower.ToString()).ToLowerInvariant());
            else
                result.Append(lower.ToString());
        }
        return result.ToString();
    }

    private static bool IsPunctuation(Rune rune)
    {
        int c = rune.Value;
        if (c is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126) return true;
        return Rune.GetUnicodeCategory(rune) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    private static bool IsCjk(int c) =>
        c is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF or >= 0x2A700 and <= 0x2B73F
            or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}
