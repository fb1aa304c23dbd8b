namespace Moderation.Streams.Text;

/// <summary>A host named in a text: its canonical ASCII form and the UTF-16 span of the original text.</summary>
public sealed record FoundHost(string Host, int Start, int End);
