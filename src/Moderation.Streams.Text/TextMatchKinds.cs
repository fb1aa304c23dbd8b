namespace Moderation.Streams.Text;

/// <summary>What kind of bank entry matched: <c>term</c>, <c>domain</c> or <c>text</c> (by meaning).</summary>
public static class TextMatchKinds
{
    public const string Term = "term";
    public const string Domain = "domain";
    public const string Text = "text";
}
