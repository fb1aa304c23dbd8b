namespace Moderation.Streams.Text;

/// <summary>A row of a text bank file that was refused, with its 1-based line number.</summary>
public sealed record TextBankRowError(int Line, string Message);
