using System.Globalization;

namespace Moderation.Streams.Contracts;

/// <summary>A rule's window as the policy writes it: a whole number and a unit, <c>s</c>, <c>m</c>, <c>h</c> or <c>d</c>
/// (<c>30s</c>, <c>1m</c>, <c>1h</c>, <c>7d</c>), from one second to 365 days.</summary>
public static class PolicyWindow
{
    public static readonly TimeSpan Shortest = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan Longest = TimeSpan.FromDays(365);

    /// <summary>The window's length; null when <paramref name="text"/> is not a window in range.</summary>
    public static TimeSpan? TryParse(string? text)
    {
        if (string.IsNullOrEmpty(text) || text.Length < 2 || text.Length > 12) return null;
        var digits = text.AsSpan(0, text.Length - 1);
        foreach (char c in digits)
            if (c is < '0' or > '9') return null;
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long n)) return null;
        double seconds = text[^1] switch
        {
            's' => n,
            'm' => n * 60.0,
            'h' => n * 3600.0,
            'd' => n * 86400.0,
            _ => -1,
        };
        if (seconds < Shortest.TotalSeconds || seconds > Longest.TotalSeconds) return null;
        return TimeSpan.FromSeconds(seconds);
    }
}
