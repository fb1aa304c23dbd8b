using System.Text.RegularExpressions;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Hashing.Banks;

/// <summary>One known-violating hash of a bank, with the metadata that travels with it.</summary>
/// <param name="Bank">The bank's name (see <see cref="BankNames"/>).</param>
/// <param name="Id">Unique within the bank; an import with the same id replaces the entry.</param>
/// <param name="Hash">The PDQ hash.</param>
/// <param name="Quality">Its PDQ quality (0..100); entries under the matcher's minimum are kept but never matched.</param>
/// <param name="Label">Free text, e.g. the category on the sharing list.</param>
/// <param name="Source">Where the hash came from (a file name, a list's name).</param>
/// <param name="AddedAt">When it was added.</param>
public sealed record BankEntry(string Bank, string Id, PdqHash Hash, int Quality, string? Label, string? Source, DateTimeOffset AddedAt);

/// <summary>A bank entry found near a query hash.</summary>
/// <param name="Transform">Which dihedral transform of the query matched (Original unless dihedral matching is on).</param>
public readonly record struct BankMatch(BankEntry Entry, int Distance, PdqTransform Transform)
{
    public string Bank => Entry.Bank;
    public string Id => Entry.Id;
}

/// <summary>Bank names: 1–64 of <c>[A-Za-z0-9._-]</c>, so they are safe inside Redis keys and hash tags.</summary>
public static partial class BankNames
{
    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex Valid();

    public static bool IsValid(string? name) => name is not null && Valid().IsMatch(name);

    /// <exception cref="ArgumentException">The name is not valid.</exception>
    public static string Validate(string? name) =>
        IsValid(name) ? name! : throw new ArgumentException($"bank name '{name}' is invalid: use 1-64 of A-Z a-z 0-9 . _ -", nameof(name));
}

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
