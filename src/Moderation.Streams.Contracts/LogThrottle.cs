using System.Collections.Concurrent;

namespace Moderation.Streams.Contracts;

/// <summary>
/// Rate-limits log lines of repeated failures: the first event of a kind is logged, repeats within
/// <c>interval</c> are only counted, and the next one logged after it says how many were left out. A broker or
/// store that is down costs one line per kind per interval, not one per poll, retry or upload.
/// </summary>
public sealed class LogThrottle(TimeSpan interval, TimeProvider? time = null)
{
    /// <summary>Kinds tracked apart; past this, new kinds share one entry (kinds come from error codes, never from input).</summary>
    public const int MaxKinds = 256;

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ConcurrentDictionary<string, Entry> _entries = new();

    private sealed class Entry
    {
        public long Last;
        public long Suppressed;
        public bool Logged;
    }

    public TimeSpan Interval => interval;

    /// <summary>Whether an event of <paramref name="kind"/> is to be logged now; if so, <paramref name="suppressed"/> is how
    /// many of its kind were not logged since the last line.</summary>
    public bool ShouldLog(string kind, out long suppressed)
    {
        if (!_entries.TryGetValue(kind, out var entry))
            entry = _entries.GetOrAdd(_entries.Count < MaxKinds ? kind : "", _ => new Entry());
        lock (entry)
        {
            long now = _time.GetTimestamp();
            if (entry.Logged && _time.GetElapsedTime(entry.Last, now) < interval)
            {
                entry.Suppressed++;
                suppressed = 0;
                return false;
            }
            (entry.Logged, entry.Last, suppressed, entry.Suppressed) = (true, now, entry.Suppressed, 0);
            return true;
        }
    }
}
