using Moderation.Streams.Contracts;

namespace Moderation.Streams.Text;

/// <summary>A text bank file that could not be loaded: every refused row, so all can be fixed at once.</summary>
public sealed class TextBankException(string bank, IReadOnlyList<TextBankRowError> errors)
    : Exception($"bank '{SafeText.Escape(bank, TextLimits.ReasonNameChars)}': {errors.Count} row(s) refused")
{
    public string Bank { get; } = bank;

    public IReadOnlyList<TextBankRowError> Errors { get; } = errors;
}
