namespace Moderation.Streams.Text;

/// <summary>One match: <paramref name="Start"/>/<paramref name="End"/> are UTF-16 offsets into the original text
/// (<c>End</c> exclusive).</summary>
public sealed record TextMatch(string Kind, string Bank, string Id, string Category, int Start, int End);
