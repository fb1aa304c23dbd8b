namespace Moderation.Streams.Text;

/// <summary>One match: <paramref name="Start"/>/<paramref name="End"/> are UTF-16 offsets into the original text
/// (<c>End</c> exclusive). A meaning match (<see cref="TextMatchKinds.Text"/>) covers the whole text and carries its
/// cosine <paramref name="Similarity"/> instead of a span (DESIGN.md: it is written without start and end).</summary>
public sealed record TextMatch(string Kind, string Bank, string Id, string Category, int Start, int End, float? Similarity = null);
