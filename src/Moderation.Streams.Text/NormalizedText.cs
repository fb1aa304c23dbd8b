using System.Text;
using static Moderation.Streams.Text.CodePoints;

namespace Moderation.Streams.Text;

/// <summary>
/// A text as term matching sees it, with the way back to the original. Built in steps, each keeping for every
/// code point the UTF-16 span of the original text it came from:
/// <list type="number">
/// <item><see cref="TextFolding"/>: case, compatibility forms, diacritics, confusables, format characters.</item>
/// <item>Leetspeak: digits always (<c>0→o 1→i 3→e 4→a 5→s 7→t 8→b 9→g</c>, and <c>l→i</c> so that <c>1</c>, <c>l</c>
/// and <c>i</c> are one letter, as in TR39 skeletons); symbols only inside or in front of a word (<c>@→a $→s</c> before
/// anything but a space or the end, a single <c>! | →i</c> and <c>+→t</c> between letters), so <c>scam!</c> and
/// <c>scam!!!</c> still end a word.</item>
/// <item>Letters split by one repeated separator (<c>s.c.a.m</c>, <c>s c a m</c>, <c>s - c - a - m</c>: three or more
/// single letters, the same separator of at most three characters between each) are joined.</item>
/// <item>Every run of other characters becomes one space.</item>
/// <item>Runs of one letter are counted (<see cref="RunCount"/>): a run of three or more matches a pattern's run of
/// any length, so <c>scaaaam</c> is <c>scam</c> while <c>good</c> is still not <c>god</c>.</item>
/// </list>
/// Term patterns go through the same steps, so both sides meet in the middle.
/// </summary>
public sealed class NormalizedText
{
    private NormalizedText(string original, string folded, int[] foldedStart, int[] foldedEnd,
        int[] runChar, int[] runCount, int[] runStart, int[] runEnd, int[] charStart, int[] charEnd, int[] runFirst, bool[] runChained)
    {
        _runChained = runChained;
        Original = original;
        Folded = folded;
        _foldedStart = foldedStart;
        _foldedEnd = foldedEnd;
        RunChar = runChar;
        RunCount = runCount;
        _runStart = runStart;
        _runEnd = runEnd;
        _charStart = charStart;
        _charEnd = charEnd;
        _runFirst = runFirst;
    }

    private readonly bool[] _runChained;

    private readonly int[] _foldedStart, _foldedEnd, _runStart, _runEnd, _charStart, _charEnd, _runFirst;

    public string Original { get; }

    /// <summary>Step 1 alone, as a string (what <c>regex</c> terms run on): lower case, folded, no leetspeak.</summary>
    public string Folded { get; }

    /// <summary>The letter (code point) of each run; <see cref="TextFolding.Space"/> for a separator.</summary>
    internal int[] RunChar { get; }

    internal int[] RunCount { get; }

    internal int RunLength => RunChar.Length;

    /// <summary>A word may start at run <paramref name="run"/>: after a separator, at the start, or between two letters of
    /// a joined chain (<c>a s c a m</c> joins to <c>ascam</c>, and <c>scam</c> is still a word of it).</summary>
    internal bool WordMayStartAt(int run) =>
        run == 0 || !IsWord(RunChar[run - 1]) || (_runChained[run] && _runChained[run - 1]);

    /// <summary>A word may end after run <paramref name="run"/> (see <see cref="WordMayStartAt"/>).</summary>
    internal bool WordMayEndAfter(int run) =>
        run == RunChar.Length - 1 || !IsWord(RunChar[run + 1]) || (_runChained[run] && _runChained[run + 1]);

    /// <summary>Run <paramref name="run"/> is a letter of a joined chain of single letters.</summary>
    internal bool IsChained(int run) => _runChained[run];

    /// <summary>The skeleton as a string (one letter per run of three or more), for tests and messages.</summary>
    public string Skeleton
    {
        get
        {
            var text = new StringBuilder();
            for (int r = 0; r < RunChar.Length; r++)
                for (int k = 0; k < (RunCount[r] >= 3 ? 1 : RunCount[r]); k++) AppendCodePoint(text, RunChar[r]);
            return text.ToString();
        }
    }

    internal static bool IsWord(int cp) => cp < 128 ? char.IsAsciiLetterOrDigit((char)cp) : Rune.IsValid(cp) && Rune.IsLetterOrDigit(new Rune(cp));

    /// <summary>Original span of the <paramref name="k"/>-th character of run <paramref name="run"/>.</summary>
    internal int CharStart(int run, int k) => _charStart[_runFirst[run] + k];

    internal int CharEnd(int run, int k) => _charEnd[_runFirst[run] + k];

    internal int RunStart(int run) => _runStart[run];

    internal int RunEnd(int run) => _runEnd[run];

    /// <summary>Original span of the folded UTF-16 range <c>[start, end)</c> (a regex match in <see cref="Folded"/>).</summary>
    internal (int Start, int End) FoldedSpan(int start, int end) => (_foldedStart[start], _foldedEnd[end - 1]);

    public static NormalizedText Create(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var folded = TextFolding.Fold(text);

        var foldedText = new StringBuilder(folded.Count);
        var foldedStart = new List<int>(folded.Count);
        var foldedEnd = new List<int>(folded.Count);
        foreach (var unit in folded)
        {
            int before = foldedText.Length;
            AppendCodePoint(foldedText, unit.CodePoint);
            for (int k = before; k < foldedText.Length; k++)
            {
                foldedStart.Add(unit.Start);
                foldedEnd.Add(unit.End);
            }
        }

        var leet = Leet(folded);
        var (joined, chained) = JoinSeparatedLetters(leet);

        // Runs of non-word characters become one space; runs of one letter are counted.
        var runChar = new List<int>();
        var runCount = new List<int>();
        var runStart = new List<int>();
        var runEnd = new List<int>();
        var runFirst = new List<int>();
        var runChained = new List<bool>();
        var charStart = new List<int>(joined.Count);
        var charEnd = new List<int>(joined.Count);
        for (int u = 0; u < joined.Count; u++)
        {
            var unit = joined[u];
            bool word = IsWord(unit.CodePoint);
            int cp = word ? unit.CodePoint : TextFolding.Space;
            int last = runChar.Count - 1;
            if (last >= 0 && runChar[last] == cp && runChained[last] == chained[u])
            {
                if (!word) continue; // separators collapse into one
                runCount[last]++;
                runEnd[last] = unit.End;
            }
            else
            {
                if (!word && last < 0) continue; // leading separators carry nothing
                runChar.Add(cp);
                runCount.Add(1);
                runStart.Add(unit.Start);
                runEnd.Add(unit.End);
                runFirst.Add(charStart.Count);
                runChained.Add(chained[u]);
            }
            charStart.Add(unit.Start);
            charEnd.Add(unit.End);
        }
        return new NormalizedText(text, foldedText.ToString(), [.. foldedStart], [.. foldedEnd],
            [.. runChar], [.. runCount], [.. runStart], [.. runEnd], [.. charStart], [.. charEnd], [.. runFirst], [.. runChained]);
    }

    private static bool IsSpace(int cp) => cp == TextFolding.Space || (cp < 128 && char.IsWhiteSpace((char)cp));

    private static bool IsLeetSymbol(int cp) => cp is '@' or '$' or '!' or '|' or '+';

    private static bool WordOrLeet(List<FoldedUnit> units, int i) =>
        i >= 0 && i < units.Count && (IsWord(units[i].CodePoint) || IsLeetSymbol(units[i].CodePoint));

    /// <summary>A single <c>!</c>, <c>|</c> or <c>+</c> stands for a letter only between letters (or other leet symbols):
    /// never next to another of its kind, so <c>scam!!!</c> ends the word <c>scam</c> and <c>c++</c> stays itself; and
    /// not between two single letters, where it is the separator of a spelled-out word (<c>s!c!a!m</c>).</summary>
    private static bool LeetBetween(List<FoldedUnit> units, int i)
    {
        int cp = units[i].CodePoint;
        bool Side(int j) => WordOrLeet(units, j) && units[j].CodePoint != cp;
        bool Word(int j) => j >= 0 && j < units.Count && IsWord(units[j].CodePoint);
        bool singles = Word(i - 1) && !Word(i - 2) && Word(i + 1) && !Word(i + 2);
        return Side(i - 1) && Side(i + 1) && !singles;
    }

    private static List<FoldedUnit> Leet(List<FoldedUnit> units)
    {
        var result = new List<FoldedUnit>(units.Count);
        for (int i = 0; i < units.Count; i++)
        {
            var u = units[i];
            int cp = u.CodePoint switch
            {
                '0' => 'o',
                '1' or 'l' => 'i',
                '3' => 'e',
                '4' => 'a',
                '5' => 's',
                '7' => 't',
                '8' => 'b',
                '9' => 'g',
                '@' or '$' when i + 1 < units.Count && !IsSpace(units[i + 1].CodePoint) => u.CodePoint == '@' ? 'a' : 's',
                '!' or '|' when LeetBetween(units, i) => 'i',
                '+' when LeetBetween(units, i) => 't',
                var other => other,
            };
            result.Add(u with { CodePoint = cp });
        }
        return result;
    }

    private const int MaxSeparatorChars = 3;

    /// <summary>Joins <c>s.c.a.m</c>: at least three single word characters with the same separator (1–3
    /// non-word characters) between each pair. A letter that belongs to a longer word never starts or ends a chain.
    /// Letters joined across spaces are marked, because a word may start or end between any two of them (the article
    /// in <c>a s c a m</c> joins the chain too); across other separators the chain is one word (<c>s.c.a.m.p.i</c> is
    /// not <c>scam</c>).</summary>
    private static (List<FoldedUnit> Units, List<bool> Chained) JoinSeparatedLetters(List<FoldedUnit> units)
    {
        var result = new List<FoldedUnit>(units.Count);
        var chained = new List<bool>(units.Count);
        int n = units.Count;
        bool Word(int i) => i >= 0 && i < n && IsWord(units[i].CodePoint);
        bool Single(int i) => Word(i) && !Word(i - 1) && !Word(i + 1);
        int i = 0;
        while (i < n)
        {
            if (Single(i))
            {
                // The separator after the first letter: 1..3 non-word characters, then a single letter.
                int sepEnd = i + 1;
                while (sepEnd < n && !Word(sepEnd) && sepEnd - (i + 1) < MaxSeparatorChars + 1) sepEnd++;
                int sepLength = sepEnd - (i + 1);
                if (sepLength is >= 1 and <= MaxSeparatorChars && Single(sepEnd))
                {
                    var letters = new List<int> { i };
                    int at = i;
                    while (true)
                    {
                        int next = at + 1 + sepLength;
                        if (!Single(next) || !SameSeparator(units, i + 1, at + 1, sepLength)) break;
                        letters.Add(next);
                        at = next;
                    }
                    if (letters.Count >= 3)
                    {
                        bool spaced = true;
                        for (int k = i + 1; k < i + 1 + sepLength; k++) spaced &= IsSpace(units[k].CodePoint);
                        foreach (int l in letters)
                        {
                            result.Add(units[l]);
                            chained.Add(spaced);
                        }
                        i = at + 1;
                        continue;
                    }
                }
            }
            result.Add(units[i]);
            chained.Add(false);
            i++;
        }
        return (result, chained);
    }

    private static bool SameSeparator(List<FoldedUnit> units, int first, int other, int length)
    {
        for (int k = 0; k < length; k++)
            if (units[first + k].CodePoint != units[other + k].CodePoint) return false;
        // The separator must end where the next letter starts.
        return true;
    }
}
