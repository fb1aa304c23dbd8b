using System.Text.RegularExpressions;

namespace Moderation.Streams.Hashing.Banks;

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
