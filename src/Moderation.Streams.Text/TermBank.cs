using System.Text;
using static Moderation.Streams.Text.CodePoints;
using System.Text.RegularExpressions;

namespace Moderation.Streams.Text;

/// <summary>
/// A <c>terms</c> bank: rows <c>pattern,category[,id[,mode]]</c>. <c>word</c> and <c>substring</c> patterns are
/// normalised like texts (<see cref="NormalizedText"/>) and compared run by run; <c>word</c> patterns only at word
/// boundaries, so <c>scam</c> never matches in <c>scampi</c>. <c>regex</c> patterns run on the folded text
/// (<see cref="NormalizedText.Folded"/>: lower case, no diacritics or confusables, no leetspeak) with .NET's
/// non-backtracking engine (time linear in the text) and a match timeout; a pattern that engine cannot run
/// (backreferences, lookarounds, atomic groups) or that nests unbounded quantifiers (<c>(a+)+</c>, catastrophic in a
/// backtracking engine) is refused when the bank is loaded.
/// </summary>
public sealed class TermBank
{
    public const int MaxPatternChars = 512;
    public static readonly TimeSpan RegexTimeout = TimeSpan.FromSeconds(1);

    private sealed record Compiled(TermEntry Entry, int[] Chars, int[] Counts, Regex? Regex);

    private readonly Dictionary<string, List<Compiled>> _wordsByFirstWord = new(StringComparer.Ordinal);
    private readonly Dictionary<int, List<Compiled>> _substringsByFirstChar = [];
    private readonly List<Compiled> _regexes = [];
    private int _longestFirstWord;

    // Every row compiled, in the bank's order: what a change keeps of the bank (nothing is compiled twice).
    private readonly IReadOnlyList<Compiled> _compiled;

    private TermBank(string name, IReadOnlyList<Compiled> compiled)
    {
        Name = name;
        _compiled = compiled;
        Entries = [.. compiled.Select(c => c.Entry)];
    }

    public string Name { get; }

    public IReadOnlyList<TermEntry> Entries { get; }

    /// <summary>Reads a bank; any refused row refuses the whole bank (<see cref="TextBankException"/> lists them all).</summary>
    public static TermBank Load(string name, TextReader reader) => Build(name, Compile(name, reader));

    /// <summary>This bank with the rows of <paramref name="rows"/> changed (id → the row as a bank file has it, its id
    /// given; null: removed), ordered by id as a bank read from the store is: the same bank as loading every row again,
    /// compiling only the rows given. This bank is not changed.</summary>
    /// <exception cref="TextBankException">A row is refused, or does not hold the id it is given under.</exception>
    /// <exception cref="InvalidOperationException">This bank holds an id twice (a file, not a stored bank).</exception>
    public TermBank With(IReadOnlyDictionary<string, string?> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var byId = new Dictionary<string, Compiled>(_compiled.Count + rows.Count, StringComparer.Ordinal);
        foreach (var c in _compiled)
            if (!byId.TryAdd(c.Entry.Id, c)) throw new InvalidOperationException($"bank {Name} holds id '{TextBankCsv.Shown(c.Entry.Id)}' twice");
        var given = rows.Where(r => r.Value is not null).ToList();
        var compiled = Compile(Name, new StringReader("pattern,category,id,mode\n" + string.Join('\n', given.Select(r => r.Value))));
        if (compiled.Count != given.Count) throw new TextBankException(Name, [new TextBankRowError(0, $"{given.Count} rows given, {compiled.Count} read")]);
        for (int i = 0; i < given.Count; i++)
            if (compiled[i].Entry.Id != given[i].Key)
                throw new TextBankException(Name, [new TextBankRowError(i + 2, $"row of id '{TextBankCsv.Shown(compiled[i].Entry.Id)}' given as '{TextBankCsv.Shown(given[i].Key)}'")]);
        foreach (var (id, row) in rows)
            if (row is null) byId.Remove(id);
        foreach (var c in compiled) byId[c.Entry.Id] = c;
        return Build(Name, [.. byId.Values.OrderBy(c => c.Entry.Id, StringComparer.Ordinal)]);
    }

    private static List<Compiled> Compile(string name, TextReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var errors = new List<TextBankRowError>();
        var compiled = new List<Compiled>();
        foreach (var (line, fields) in TextBankCsv.Rows(reader, "pattern", errors))
        {
            if (fields.Count is < 2 or > 4)
            {
                errors.Add(new TextBankRowError(line, "expected pattern,category[,id[,mode]]"));
                continue;
            }
            string pattern = fields[0].Trim(), category = fields[1].Trim();
            string id = fields.Count > 2 && fields[2].Trim().Length > 0 ? fields[2].Trim() : pattern;
            string modeText = fields.Count > 3 ? fields[3].Trim() : "";
            TermMode mode;
            switch (modeText.ToLowerInvariant())
            {
                case "" or "word": mode = TermMode.Word; break;
                case "substring": mode = TermMode.Substring; break;
                case "regex": mode = TermMode.Regex; break;
                default:
                    errors.Add(new TextBankRowError(line, $"mode must be word, substring or regex: '{TextBankCsv.Shown(modeText)}'"));
                    continue;
            }
            if (pattern.Length == 0 || pattern.Length > MaxPatternChars)
            {
                errors.Add(new TextBankRowError(line, $"pattern must have 1 to {MaxPatternChars} characters"));
                continue;
            }
            if (TextBankCsv.Refusal(category, id) is { } refused)
            {
                errors.Add(new TextBankRowError(line, refused));
                continue;
            }
            var entry = new TermEntry(pattern, category, id, mode);
            if (mode == TermMode.Regex)
            {
                if (RegexRefusal(pattern, out var regex) is { } why)
                {
                    errors.Add(new TextBankRowError(line, why));
                    continue;
                }
                compiled.Add(new Compiled(entry, [], [], regex));
                continue;
            }
            var normal = NormalizedText.Create(pattern);
            int first = 0, last = normal.RunLength - 1;
            while (first <= last && !NormalizedText.IsWord(normal.RunChar[first])) first++;
            while (last >= first && !NormalizedText.IsWord(normal.RunChar[last])) last--;
            if (first > last)
            {
                errors.Add(new TextBankRowError(line, $"pattern has no letter or digit: '{TextBankCsv.Shown(pattern)}'"));
                continue;
            }
            compiled.Add(new Compiled(entry, normal.RunChar[first..(last + 1)], normal.RunCount[first..(last + 1)], null));
        }
        if (errors.Count > 0) throw new TextBankException(name, errors);
        return compiled;
    }

    private static TermBank Build(string name, List<Compiled> compiled)
    {
        var bank = new TermBank(name, compiled);
        foreach (var c in compiled)
        {
            switch (c.Entry.Mode)
            {
                case TermMode.Regex:
                    bank._regexes.Add(c);
                    break;
                case TermMode.Word:
                    var key = FirstWordKey(c.Chars, 0);
                    if (!bank._wordsByFirstWord.TryGetValue(key, out var words)) bank._wordsByFirstWord[key] = words = [];
                    bank._longestFirstWord = Math.Max(bank._longestFirstWord, key.Length);
                    words.Add(c);
                    break;
                default:
                    if (!bank._substringsByFirstChar.TryGetValue(c.Chars[0], out var subs)) bank._substringsByFirstChar[c.Chars[0]] = subs = [];
                    subs.Add(c);
                    break;
            }
        }
        return bank;
    }

    /// <summary>Why a regex pattern is refused, or null with the compiled expression.</summary>
    public static string? RegexRefusal(string pattern, out Regex? regex)
    {
        regex = null;
        if (NestedUnboundedQuantifier(pattern))
            return $"regex nests unbounded quantifiers (catastrophic backtracking): '{TextBankCsv.Shown(pattern)}'";
        try
        {
            regex = new Regex(pattern, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant | RegexOptions.IgnoreCase, RegexTimeout);
            return null;
        }
        catch (NotSupportedException e)
        {
            return $"regex cannot run without backtracking or is too large ({e.Message}): '{TextBankCsv.Shown(pattern)}'";
        }
        catch (ArgumentException e)
        {
            return $"invalid regex ({e.Message}): '{TextBankCsv.Shown(pattern)}'";
        }
    }

    /// <summary>True when a group that contains an unbounded quantifier (<c>* + {n,}</c>) is itself repeated without
    /// bound: <c>(a+)+</c>, <c>(\w*\s?)*</c>. A syntactic check over the pattern (escapes and classes skipped).</summary>
    internal static bool NestedUnboundedQuantifier(string pattern)
    {
        var groups = new Stack<bool>(); // per open group: the enclosing level's flag
        bool current = false;           // the current level holds an unbounded quantifier
        int i = 0;
        while (i < pattern.Length)
        {
            char c = pattern[i];
            bool closedUnbounded = false;
            switch (c)
            {
                case '\\':
                    i += 2;
                    break;
                case '[':
                    i++;
                    if (i < pattern.Length && pattern[i] == '^') i++;
                    if (i < pattern.Length && pattern[i] == ']') i++;
                    while (i < pattern.Length && pattern[i] != ']') i += pattern[i] == '\\' ? 2 : 1;
                    i++;
                    break;
                case '(':
                    groups.Push(current);
                    current = false;
                    i++;
                    continue; // a quantifier cannot follow '('
                case ')':
                    closedUnbounded = current;
                    current = (groups.Count > 0 ? groups.Pop() : false) | current;
                    i++;
                    break;
                default:
                    i++;
                    break;
            }
            if (i < pattern.Length && UnboundedQuantifierAt(pattern, i, out int length))
            {
                if (closedUnbounded) return true;
                current = true;
                i += length;
            }
        }
        return false;
    }

    private static bool UnboundedQuantifierAt(string pattern, int i, out int length)
    {
        length = 1;
        if (pattern[i] is '*' or '+') return true;
        if (pattern[i] != '{') return false;
        int close = pattern.IndexOf('}', i);
        if (close < 0) return false;
        var body = pattern.AsSpan(i + 1, close - i - 1);
        length = close - i + 1;
        int comma = body.IndexOf(',');
        return comma >= 0 && comma == body.Length - 1 && comma > 0;
    }

    private static string FirstWordKey(int[] chars, int from)
    {
        var key = new StringBuilder();
        for (int k = from; k < chars.Length && NormalizedText.IsWord(chars[k]); k++) AppendCodePoint(key, chars[k]);
        return key.ToString();
    }

    /// <summary>Adds this bank's matches in <paramref name="text"/> to <paramref name="matches"/>.</summary>
    public void Match(NormalizedText text, List<TextMatch> matches)
    {
        ArgumentNullException.ThrowIfNull(text);
        int n = text.RunLength;
        var key = new StringBuilder();
        for (int r = 0; r < n; r++)
        {
            int cp = text.RunChar[r];
            if (!NormalizedText.IsWord(cp)) continue;
            if (_wordsByFirstWord.Count > 0 && text.WordMayStartAt(r))
            {
                key.Clear();
                for (int k = r; k < n && NormalizedText.IsWord(text.RunChar[k]); k++)
                {
                    AppendCodePoint(key, text.RunChar[k]);
                    if (key.Length > _longestFirstWord) break;
                    // Inside a joined chain a word may end after any letter; elsewhere only the whole word is a key.
                    bool wordEnds = k + 1 == n || !NormalizedText.IsWord(text.RunChar[k + 1]);
                    if (!wordEnds && !(text.IsChained(k) && text.WordMayEndAfter(k))) continue;
                    if (_wordsByFirstWord.TryGetValue(key.ToString(), out var words))
                        foreach (var term in words) TryAt(text, r, term, wholeWords: true, matches);
                }
            }
            if (_substringsByFirstChar.TryGetValue(cp, out var subs))
                foreach (var term in subs) TryAt(text, r, term, wholeWords: false, matches);
        }
        foreach (var term in _regexes)
        {
            foreach (var m in term.Regex!.EnumerateMatches(text.Folded))
            {
                if (m.Length == 0) continue;
                var (start, end) = text.FoldedSpan(m.Index, m.Index + m.Length);
                matches.Add(new TextMatch(TextMatchKinds.Term, Name, term.Entry.Id, term.Entry.Category, start, end));
            }
        }
    }

    /// <summary>A run of three or more stands for a letter repeated for evasion: it matches any count.</summary>
    private static bool SameCount(int textCount, int patternCount) => textCount == patternCount || textCount >= 3;

    private void TryAt(NormalizedText text, int r, Compiled term, bool wholeWords, List<TextMatch> matches)
    {
        int m = term.Chars.Length;
        if (r + m > text.RunLength) return;
        for (int k = 0; k < m; k++)
        {
            if (text.RunChar[r + k] != term.Chars[k]) return;
            int tc = text.RunCount[r + k], pc = term.Counts[k];
            bool edge = !wholeWords && (k == 0 || k == m - 1);
            if (!(SameCount(tc, pc) || (edge && tc > pc))) return;
        }
        if (wholeWords && !text.WordMayEndAfter(r + m - 1)) return;

        // The span: whole runs, except a substring's edge run that is longer than the pattern's (and not repeated for evasion).
        int firstCount = text.RunCount[r], lastCount = text.RunCount[r + m - 1];
        if (m == 1 && !wholeWords && firstCount < 3 && firstCount > term.Counts[0])
        {
            matches.Add(new TextMatch(TextMatchKinds.Term, Name, term.Entry.Id, term.Entry.Category, text.CharStart(r, 0), text.CharEnd(r, term.Counts[0] - 1)));
            return;
        }
        int start = !wholeWords && firstCount < 3 && firstCount > term.Counts[0]
            ? text.CharStart(r, firstCount - term.Counts[0])
            : text.RunStart(r);
        int end = !wholeWords && lastCount < 3 && lastCount > term.Counts[m - 1]
            ? text.CharEnd(r + m - 1, term.Counts[m - 1] - 1)
            : text.RunEnd(r + m - 1);
        matches.Add(new TextMatch(TextMatchKinds.Term, Name, term.Entry.Id, term.Entry.Category, start, end));
    }
}
