namespace Moderation.Streams.Text;

/// <summary>What kind of bank entry matched: <c>term</c> or <c>domain</c> (<c>text</c>, by meaning, is not built yet).</summary>
public static class TextMatchKinds
{
    public const string Term = "term";
    public const string Domain = "domain";
}
