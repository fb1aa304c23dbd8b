namespace Moderation.Streams.Contracts;

/// <summary>
/// How long free text from bank files (and anything else not from the worker itself) may be where it travels: bank
/// entries refuse longer text at import, decisions escape and cut it (<see cref="SafeText"/>), so the size of every
/// record the worker publishes is bounded whatever Redis holds.
/// </summary>
public static class TextLimits
{
    /// <summary>Bank entry ids, and <c>match_id</c> in decisions. Long enough for the file paths the <c>hash</c> verb
    /// writes as ids.</summary>
    public const int BankIdChars = 1024;

    /// <summary>Bank entry labels and sources.</summary>
    public const int BankLabelChars = 256;

    /// <summary>Names and codes in a decision reason (source, bank, model, label, code).</summary>
    public const int ReasonNameChars = 256;

    /// <summary>The <c>message</c> of a decision reason (often an exception's message).</summary>
    public const int ReasonMessageChars = 1000;

    /// <summary>Why a free-text <paramref name="field"/> is refused — longer than <paramref name="maxChars"/>, or with a
    /// control or format character (<see cref="SafeText.IsClean"/>) — or null when it is fine (or absent).</summary>
    public static string? Refusal(string field, string? value, int maxChars)
    {
        if (value is null) return null;
        if (value.Length > maxChars) return $"{field} is {value.Length} characters, over the limit of {maxChars}";
        if (!SafeText.IsClean(value)) return $"{field} '{Shown(value)}' has a control or format character (shown escaped)";
        return null;
    }

    /// <summary>Text as it may appear in an error message: escaped and cut to 80 characters.</summary>
    public static string Shown(string value) => SafeText.Escape(value, 80);
}
