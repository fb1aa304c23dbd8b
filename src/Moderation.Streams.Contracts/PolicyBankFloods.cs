namespace Moderation.Streams.Contracts;

/// <summary>
/// Flood quarantine (the policy's <c>bank_floods</c>): a takedown-bank entry that matches more than
/// <see cref="MaxUploads"/> distinct uploads within <see cref="Window"/> is most likely a bad import (a meme, a logo,
/// a blank frame) and is switched to review-only until an operator releases it (<c>moderation bank release</c>).
/// </summary>
public sealed record PolicyBankFloods
{
    public string Window { get; init; } = "";
    public int MaxUploads { get; init; }

    /// <summary>The window's length (a validated policy always has one).</summary>
    public TimeSpan Span => PolicyWindow.TryParse(Window) ?? throw new InvalidOperationException($"'{Window}' is not a window");

    internal void Validate(List<(string, string)> errors)
    {
        PolicyUploaders.CheckWindow(errors, "bank_floods", Window);
        if (MaxUploads is < 1 or > PolicyCountRule.MaxReviewAt)
            errors.Add(("bank_floods.max_uploads", $"max_uploads {MaxUploads} must be in 1..{PolicyCountRule.MaxReviewAt}"));
    }
}
