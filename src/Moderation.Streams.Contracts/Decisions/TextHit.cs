namespace Moderation.Streams.Contracts;

/// <summary>A text bank entry that a caption or a text item matched.</summary>
/// <param name="Field"><c>caption</c> or <c>text</c>.</param>
/// <param name="Kind"><c>term</c>, <c>domain</c> or <c>text</c> (a meaning bank).</param>
/// <param name="Start">UTF-16 offset of the match in the original field; null for a meaning match.</param>
/// <param name="Similarity">A meaning match's cosine similarity; null for a term or domain match.</param>
public sealed record TextHit(string Field, string Kind, string Bank, string Id, string Category, int? Start = null, int? End = null, float? Similarity = null)
{
    public const string CaptionField = "caption";
    public const string TextField = "text";
}
