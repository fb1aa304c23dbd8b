namespace Moderation.Streams.Text;

/// <summary>One row of a terms bank.</summary>
public sealed record TermEntry(string Pattern, string Category, string Id, TermMode Mode);
