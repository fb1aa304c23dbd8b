using Moderation.Streams.Contracts;

namespace Moderation.Streams.Hashing.Banks;

/// <summary>The rule for a bank entry's free text: the id at most <see cref="TextLimits.BankIdChars"/> characters, label
/// and source at most <see cref="TextLimits.BankLabelChars"/>, none with a control or format character
/// (<see cref="SafeText.IsClean"/>). Import refuses entries that break it, so decisions and exports stay bounded.</summary>
public static class BankText
{
    /// <summary>Why an entry with this text is refused, or null when it is fine.</summary>
    public static string? Refusal(string id, string? label, string? source) =>
        TextLimits.Refusal("id", id, TextLimits.BankIdChars) ?? TextLimits.Refusal("label", label, TextLimits.BankLabelChars)
        ?? TextLimits.Refusal("source", source, TextLimits.BankLabelChars);

    /// <inheritdoc cref="Refusal(string, string?, string?)"/>
    public static string? Refusal(BankEntry entry) => Refusal(entry.Id, entry.Label, entry.Source);

    /// <summary>Text as it may appear in an error message: escaped and cut.</summary>
    public static string Shown(string value) => TextLimits.Shown(value);
}
