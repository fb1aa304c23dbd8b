using System.Collections.Frozen;

namespace Moderation.Streams.Text;

/// <summary>
/// Letters of other scripts that look like Latin letters, folded to the Latin letter (lower case). A hand-written,
/// reviewed subset of Unicode TR39's <c>confusables.txt</c> (no copy of the data file is reachable from the build):
/// the Cyrillic, Greek, Armenian and Cherokee letters that are drawn like a Latin letter in common fonts. Letters of
/// those scripts that merely sound like a Latin letter (Cyrillic <c>р</c> is "r" but looks like "p") are folded by
/// their look here, which is what evasion relies on. Everything else of those scripts stays as it is, so genuine
/// Russian or Greek text is matched against Russian or Greek terms, not transliterated. A capital and its small
/// letter fold alike (Cyrillic <c>Н</c> and <c>н</c> are both <c>h</c>), so matching stays case-insensitive; Greek
/// <c>Η/η</c> and <c>Ν/ν</c> are the exception (capital like H and N, small like n and v).
/// </summary>
internal static class Confusables
{
    private static readonly FrozenDictionary<int, char> Map = Build();

    public static bool TryFold(int codePoint, out char latin) => Map.TryGetValue(codePoint, out latin);

    private static FrozenDictionary<int, char> Build()
    {
        var map = new Dictionary<int, char>();
        void Add(string letters, string latin)
        {
            var runes = letters.EnumerateRunes().ToArray();
            if (runes.Length != latin.Length) throw new InvalidOperationException($"confusables row '{letters}' / '{latin}' differ in length");
            for (int i = 0; i < runes.Length; i++) map.Add(runes[i].Value, latin[i]);
        }
        // Cyrillic capitals and small letters.
        Add("АВСЕНІЈКМОРЅТХУҮԀԚԜӀ", "abcehijkmopstxyydqwl");
        Add("асеорхуіјѕԁһԛԝӏүѵвнкмт", "aceopxyijsdhqwlyvbhkmt");
        // Greek capitals and small letters.
        Add("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧϹϒ", "abezhikmnoptyxcy");
        Add("αοριυνκχγϲϳηϱβζτ", "aopiuvkxycjnpbzt");
        // Armenian and Cherokee look-alikes.
        Add("օսոհզ", "ounhq");
        Add("ᎪᏴᏟᎬᎻᏦᎷᏃᏒᏚᎢᏔ", "abcehkmzrstw");
        return map.ToFrozenDictionary();
    }
}
