using System.Globalization;

namespace Moderation.Streams.Kafka.Replay;

/// <summary>
/// One end of a replay range as the operator wrote it: a timestamp, explicit per-partition offsets, the
/// earliest retained offset, or the end of the topic when the replay starts (<c>now</c>).
/// </summary>
public abstract record ReplayBound
{
    private ReplayBound() { }

    /// <summary>The first offset whose message timestamp is at or after <see cref="Time"/>.</summary>
    public sealed record AtTime(DateTimeOffset Time) : ReplayBound
    {
        public override string ToString() => Time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
    }

    /// <summary>Explicit offsets. As a start, only the listed partitions are replayed; as an end, partitions not
    /// listed end at their high watermark when the replay starts.</summary>
    public sealed record AtOffsets(IReadOnlyDictionary<int, long> Offsets) : ReplayBound
    {
        public override string ToString() => string.Join(",", Offsets.OrderBy(p => p.Key).Select(p => $"{p.Key}:{p.Value}"));
    }

    /// <summary>The low watermark of every partition (the oldest upload still retained).</summary>
    public sealed record Earliest : ReplayBound
    {
        public override string ToString() => "earliest";
    }

    /// <summary>The high watermark of every partition, captured once when the replay starts.</summary>
    public sealed record Now : ReplayBound
    {
        public override string ToString() => "now";
    }

    /// <summary>
    /// Parses <c>now</c>, <c>earliest</c> (also <c>beginning</c>), an ISO 8601 timestamp
    /// (<c>2026-11-25T10:00:00Z</c>; without an offset it is UTC), Unix milliseconds (<c>@1764064800000</c>), or
    /// <c>PARTITION:OFFSET[,PARTITION:OFFSET…]</c>.
    /// </summary>
    /// <exception cref="FormatException">With a message naming the accepted forms.</exception>
    public static ReplayBound Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var s = text.Trim();
        if (s.Equals("now", StringComparison.OrdinalIgnoreCase)) return new Now();
        if (s.Equals("earliest", StringComparison.OrdinalIgnoreCase) || s.Equals("beginning", StringComparison.OrdinalIgnoreCase)) return new Earliest();
        if (s.StartsWith('@') && long.TryParse(s.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
            return new AtTime(DateTimeOffset.FromUnixTimeMilliseconds(ms));
        if (LooksLikeOffsets(s)) return new AtOffsets(ParseOffsets(s, text));
        if (DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
            return new AtTime(time);
        throw new FormatException($"'{text}' is not a replay bound: use now, earliest, an ISO 8601 timestamp (2026-11-25T10:00:00Z), @UNIX_MS, or PARTITION:OFFSET[,PARTITION:OFFSET…]");
    }

    private static bool LooksLikeOffsets(string s)
    {
        // "3:120" and "0:5,1:7" are offsets; "10:00" alone would be ambiguous with a time, but a bare time of day
        // is not a timestamp we accept, so a digits:digits list is always offsets.
        foreach (var part in s.Split(','))
        {
            var pieces = part.Trim().Split(':');
            if (pieces.Length != 2 || pieces[0].Length == 0 || pieces[1].Length == 0) return false;
            if (!pieces[0].All(char.IsAsciiDigit) || !pieces[1].All(char.IsAsciiDigit)) return false;
        }
        return true;
    }

    private static Dictionary<int, long> ParseOffsets(string s, string original)
    {
        var offsets = new Dictionary<int, long>();
        foreach (var part in s.Split(','))
        {
            var pieces = part.Trim().Split(':');
            if (!int.TryParse(pieces[0], NumberStyles.None, CultureInfo.InvariantCulture, out var partition)
                || !long.TryParse(pieces[1], NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
                throw new FormatException($"'{original}': partition or offset out of range in '{part}'");
            if (!offsets.TryAdd(partition, offset))
                throw new FormatException($"'{original}': partition {partition} is listed twice");
        }
        return offsets;
    }
}
