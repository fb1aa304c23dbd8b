namespace Moderation.Streams.Redis.Tests;

/// <summary>Waiting for something another task or process does (a change message, a background sync): the value is
/// read every 10 ms until <c>done</c> says so, or <see cref="TimeoutException"/> at the deadline.</summary>
internal static class Poll
{
    public static async Task<T> UntilAsync<T>(Func<T> read, Func<T, bool> done, TimeSpan deadline, CancellationToken ct)
    {
        var until = DateTime.UtcNow + deadline;
        while (true)
        {
            var value = read();
            if (done(value)) return value;
            if (DateTime.UtcNow > until) throw new TimeoutException($"still {value} after {deadline}");
            await Task.Delay(10, ct);
        }
    }
}
