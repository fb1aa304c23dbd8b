namespace Moderation.Streams.Text;

/// <summary>A row of a <c>texts</c> bank: a known violating text, matched by meaning.</summary>
public sealed record MeaningEntry(string Text, string Category, string Id);
