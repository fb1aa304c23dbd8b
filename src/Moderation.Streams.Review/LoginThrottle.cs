using System.Collections.Concurrent;

namespace Moderation.Streams.Review;

/// <summary>Failed logins per client address in a sliding minute: past the limit the address is refused (429) until its
/// oldest failure ages out, before any password is checked. Form logins and HTTP Basic failures count together.</summary>
public sealed class LoginThrottle
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private const int MaxAddresses = 100_000;
    private readonly ConcurrentDictionary<string, Queue<DateTimeOffset>> _failures = new();
    private readonly int _limit;
    private readonly TimeProvider _time;

    public LoginThrottle(int attemptsPerMinute, TimeProvider? time = null)
    {
        _limit = attemptsPerMinute;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Seconds until <paramref name="address"/> may try again; 0 when it may now.</summary>
    public int RetryAfterSeconds(string address)
    {
        if (!_failures.TryGetValue(address, out var q)) return 0;
        lock (q)
        {
            Prune(q);
            return q.Count < _limit ? 0 : Math.Max(1, (int)Math.Ceiling((q.Peek() + Window - _time.GetUtcNow()).TotalSeconds));
        }
    }

    public void Failed(string address)
    {
        if (_failures.Count > MaxAddresses) _failures.Clear(); // a flood of addresses: forget rather than grow without bound
        var q = _failures.GetOrAdd(address, _ => new Queue<DateTimeOffset>());
        lock (q)
        {
            Prune(q);
            q.Enqueue(_time.GetUtcNow());
        }
    }

    private void Prune(Queue<DateTimeOffset> q)
    {
        var cutoff = _time.GetUtcNow() - Window;
        while (q.Count > 0 && q.Peek() < cutoff) q.Dequeue();
    }
}
