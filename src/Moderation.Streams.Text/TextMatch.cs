namespace Moderation.Streams.Text;

/// <summary>What kind of bank entry matched: <c>term</c> or <c>domain</c> (<c>text</c>, by meaning, is not built yet).</summary>
public static class TextMatchKinds
{
    public const string Term = "term";
    public const string Domain = "domain";
}

/// <summary>One match: <paramref name="Start"/>/<paramref name="End"/> are UTF-16 offsets into the original text
/// (<c>End</c> exclusive).</summary>
public sealed record TextMatch(string Kind, string Bank, string Id, string Category, int Start, int End);
