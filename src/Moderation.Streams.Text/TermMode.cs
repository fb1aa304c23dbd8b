namespace Moderation.Streams.Text;

/// <summary>How a term pattern matches: whole words or phrases, anywhere, or a regular expression.</summary>
public enum TermMode
{
    Word,
    Substring,
    Regex,
}
